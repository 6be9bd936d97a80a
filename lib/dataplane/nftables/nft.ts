/**
 * Running nft: the NftRunner interface, and the real runner piping scripts to `/usr/sbin/nft -f -`.
 */
import { SwitchyardError } from '../../errors.ts';
import type { CommandRunner } from '../../exec/command.ts';

export interface NftRunner {
  /** Applies a script atomically; rejects (SwitchyardError) when nft refuses it — then nothing was applied. */
  run(script: string): Promise<void>;
  /** `nft list table <family> <table>` text, or undefined when the table does not exist. */
  listTable?(family: 'ip' | 'ip6', table: string): Promise<string | undefined>;
}

export const NFT_PATH = '/usr/sbin/nft';

export interface ExecNftRunnerOptions {
  readonly commands: CommandRunner;
  /** Prepended to the nft command line, e.g. ['/usr/sbin/ip', 'netns', 'exec', 'ns1']. */
  readonly prefix?: readonly string[];
  readonly nftPath?: string;
  readonly timeoutMs?: number;
}

export class ExecNftRunner implements NftRunner {
  private readonly commands: CommandRunner;
  private readonly prefix: readonly string[];
  private readonly nftPath: string;
  private readonly timeoutMs: number;

  constructor(options: ExecNftRunnerOptions) {
    this.commands = options.commands;
    this.prefix = options.prefix ?? [];
    this.nftPath = options.nftPath ?? NFT_PATH;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  async run(script: string): Promise<void> {
    if (script === '') return;
    const r = await this.commands.run([...this.prefix, this.nftPath, '-f', '-'], { input: script, timeoutMs: this.timeoutMs });
    if (r.code !== 0) {
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `nft -f failed (exit ${r.code}): ${firstLines(r.stderr, 6)}`);
    }
  }

  async listTable(family: 'ip' | 'ip6', table: string): Promise<string | undefined> {
    const r = await this.commands.run([...this.prefix, this.nftPath, 'list', 'table', family, table], { timeoutMs: this.timeoutMs });
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new SwitchyardError('ERR_EXEC', `nft list table ${family} ${table} failed (exit ${r.code}): ${firstLines(r.stderr, 3)}`);
    }
    return r.stdout;
  }
}

const firstLines = (s: string, n: number): string => s.trim().split('\n').slice(0, n).join(' | ');

/** Names of chains, sets and maps in `nft list table` output. */
export const parseListedObjects = (text: string): { chains: string[]; sets: { name: string; kind: 'set' | 'map' }[] } => {
  const chains: string[] = [];
  const sets: { name: string; kind: 'set' | 'map' }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(chain|set|map) (\S+) \{/.exec(line);
    if (m === null) continue;
    if (m[1] === 'chain') chains.push(m[2]!);
    else sets.push({ name: m[2]!, kind: m[1] as 'set' | 'map' });
  }
  return { chains, sets };
};
