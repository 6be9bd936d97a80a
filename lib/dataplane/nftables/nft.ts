/**
 * Running nft: the NftRunner interface, and the real runner piping scripts to `/usr/sbin/nft -f -`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SwitchyardError } from '../../errors.ts';
import { ProcessRunner, type CommandResult, type CommandRunner } from '../../exec/command.ts';

/** A script as one string, or as pieces of whole lines produced on demand (Transaction.chunks()). */
export type NftScript = string | Iterable<string>;

export const scriptText = (script: NftScript): string => {
  if (typeof script === 'string') return script;
  let out = '';
  for (const chunk of script) out += chunk;
  return out;
};

export interface NftRunner {
  /** Applies a script atomically; rejects (SwitchyardError) when nft refuses it — then nothing was applied. */
  run(script: NftScript): Promise<void>;
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

  async run(script: NftScript): Promise<void> {
    if (script === '') return;
    const argv = [...this.prefix, this.nftPath, '-f', '-'];
    // The real process runner takes its input as one string (plus a Buffer copy of it): for it the script is
    // streamed to nft's stdin piece by piece instead. Other (fake) runners get the whole text.
    const r =
      typeof script !== 'string' && this.commands instanceof ProcessRunner
        ? await runStreamed(argv, script, this.timeoutMs)
        : await this.commands.run(argv, { input: scriptText(script), timeoutMs: this.timeoutMs });
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

/**
 * Runs argv (argv[0] an absolute path) writing `chunks` to its stdin one at a time, waiting for the pipe to drain
 * between them. Resolves with any exit code, as CommandRunner.run does.
 */
export const runStreamed = (argv: readonly string[], chunks: Iterable<string>, timeoutMs: number): Promise<CommandResult> => {
  const [file, ...args] = argv;
  if (file === undefined || !file.startsWith('/')) {
    return Promise.reject(new SwitchyardError('ERR_EXEC', `refusing to run ${JSON.stringify(file)}: an absolute path is required`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exited = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SwitchyardError('ERR_EXEC', `cannot run ${file}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      exited = true;
      resolve({
        code: code ?? (signal !== null ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (signal !== null ? `\nkilled by ${signal}` : ''),
      });
    });
    child.stdin.on('error', () => {
      /* the program exited before reading all input; its exit code tells the story */
    });
    const feed = async (): Promise<void> => {
      const abort = new AbortController();
      child.once('close', () => abort.abort());
      const iterator = chunks[Symbol.iterator]();
      for (;;) {
        let next: IteratorResult<string>;
        try {
          next = iterator.next();
        } catch (e) {
          // Never let nft commit a truncated script: kill it before its input ends.
          child.kill('SIGKILL');
          reject(new SwitchyardError('ERR_DATAPLANE_APPLY', `rendering the nft script failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
          return;
        }
        if (next.done === true || exited || child.stdin.destroyed) break;
        if (!child.stdin.write(next.value)) {
          try {
            await once(child.stdin, 'drain', { signal: abort.signal });
          } catch {
            break; // closed or errored while waiting: the exit code tells the story
          }
        }
      }
      child.stdin.end();
    };
    void feed();
  });
};

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
