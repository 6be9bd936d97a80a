/**
 * Running iptables: the IptablesExecutor interface (restore, save, single commands, and `ipset` for the hairpin set)
 * for one backend, the real one over `/usr/sbin/{ip,ip6}tables-{nft,legacy}[-restore|-save]` and `/usr/sbin/ipset`,
 * and backend detection like kube-proxy's
 * iptables-wrapper: the backend the system already uses wins.
 */
import { SwitchyardError } from '../../errors.ts';
import type { CommandResult, CommandRunner } from '../../exec/command.ts';
import type { IPFamily } from '../../model/types.ts';
import type { TableName } from './model.ts';

export type IptablesBackend = 'nft' | 'legacy';

export interface IptablesExecutor {
  readonly backend: IptablesBackend;
  /** `iptables-restore --noflush` of `input`; rejects (ERR_DATAPLANE_APPLY) when refused. Atomic per table. */
  restore(family: IPFamily, input: string): Promise<void>;
  /** `iptables-save -t table`; empty string when the table does not exist. */
  save(family: IPFamily, table: TableName): Promise<string>;
  /** `iptables -w -t table …args`: resolves with any exit code (e.g. `-C` answers 1 for "no such rule"). */
  command(family: IPFamily, table: TableName, args: readonly string[]): Promise<CommandResult>;
  /** `ipset …args` (e.g. `['restore']` with `input`, `['list', '-n']`, `['destroy', name]`): resolves with any exit code. */
  ipset(args: readonly string[], input?: string): Promise<CommandResult>;
}

export const IPSET = '/usr/sbin/ipset';

const SBIN = '/usr/sbin';

export const toolPath = (family: IPFamily, backend: IptablesBackend, suffix: '' | '-restore' | '-save'): string =>
  `${SBIN}/${family === 4 ? 'iptables' : 'ip6tables'}-${backend}${suffix}`;

export interface ExecIptablesOptions {
  readonly commands: CommandRunner;
  readonly backend: IptablesBackend;
  /** Prepended to every command line, e.g. ['/usr/sbin/ip', 'netns', 'exec', 'ns1']. */
  readonly prefix?: readonly string[];
  readonly timeoutMs?: number;
}

const firstLines = (s: string, n: number): string => s.trim().split('\n').slice(0, n).join(' | ');

export class ExecIptables implements IptablesExecutor {
  readonly backend: IptablesBackend;
  private readonly commands: CommandRunner;
  private readonly prefix: readonly string[];
  private readonly timeoutMs: number;

  constructor(options: ExecIptablesOptions) {
    this.backend = options.backend;
    this.commands = options.commands;
    this.prefix = options.prefix ?? [];
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  async restore(family: IPFamily, input: string): Promise<void> {
    if (input === '') return;
    const tool = toolPath(family, this.backend, '-restore');
    const r = await this.commands.run([...this.prefix, tool, '-w', '5', '--noflush'], { input, timeoutMs: this.timeoutMs });
    if (r.code !== 0) {
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `${tool} --noflush failed (exit ${r.code}): ${firstLines(r.stderr, 6)}`);
    }
  }

  async save(family: IPFamily, table: TableName): Promise<string> {
    const tool = toolPath(family, this.backend, '-save');
    const r = await this.commands.run([...this.prefix, tool, '-t', table], { timeoutMs: this.timeoutMs });
    if (r.code !== 0) {
      // A table the kernel does not have (e.g. no ip6 legacy tables loaded) holds nothing of ours.
      if (/does not exist|Table does not exist|can't initialize/i.test(r.stderr)) return '';
      throw new SwitchyardError('ERR_EXEC', `${tool} -t ${table} failed (exit ${r.code}): ${firstLines(r.stderr, 3)}`);
    }
    return r.stdout;
  }

  command(family: IPFamily, table: TableName, args: readonly string[]): Promise<CommandResult> {
    return this.commands.run([...this.prefix, toolPath(family, this.backend, ''), '-w', '5', '-t', table, ...args], { timeoutMs: this.timeoutMs });
  }

  ipset(args: readonly string[], input?: string): Promise<CommandResult> {
    return this.commands.run([...this.prefix, IPSET, ...args], { input, timeoutMs: this.timeoutMs });
  }
}

/** Chains whose presence says which backend a node's components use (kubelet's hint, kube-proxy's and ours). */
const HINT_CHAINS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY|SWITCHYARD-CANARY) /m;

const dumpAll = async (commands: CommandRunner, prefix: readonly string[], backend: IptablesBackend): Promise<string> => {
  let text = '';
  for (const family of [4, 6] as const) {
    try {
      const r = await commands.run([...prefix, toolPath(family, backend, '-save')], { timeoutMs: 60_000 });
      if (r.code === 0) text += r.stdout;
    } catch {
      // The tool is missing: that backend holds nothing.
    }
  }
  return text;
};

const ruleCount = (dump: string): number => dump.split('\n').filter((l) => l.startsWith('-A ')).length;

/**
 * Which backend to program, as iptables-wrapper decides: a backend holding a hint chain wins (nft first); else the
 * one holding more rules; nft when neither holds any.
 */
export const detectBackend = async (commands: CommandRunner, prefix: readonly string[] = []): Promise<IptablesBackend> => {
  const nft = await dumpAll(commands, prefix, 'nft');
  if (HINT_CHAINS.test(nft)) return 'nft';
  const legacy = await dumpAll(commands, prefix, 'legacy');
  if (HINT_CHAINS.test(legacy)) return 'legacy';
  return ruleCount(legacy) > ruleCount(nft) ? 'legacy' : 'nft';
};

/**
 * An executor that picks its backend with detectBackend() on first use — construction does no I/O — and then
 * delegates to ExecIptables. A failed detection is retried on the next call.
 */
export class DetectingIptables implements IptablesExecutor {
  private readonly options: Omit<ExecIptablesOptions, 'backend'>;
  private chosen: Promise<ExecIptables> | undefined;
  private detected: IptablesBackend | undefined;

  constructor(options: Omit<ExecIptablesOptions, 'backend'>) {
    this.options = options;
  }

  /** The detected backend; 'nft' (the default choice) until detection has run. */
  get backend(): IptablesBackend {
    return this.detected ?? 'nft';
  }

  restore(family: IPFamily, input: string): Promise<void> {
    return this.executor().then((e) => e.restore(family, input));
  }

  save(family: IPFamily, table: TableName): Promise<string> {
    return this.executor().then((e) => e.save(family, table));
  }

  command(family: IPFamily, table: TableName, args: readonly string[]): Promise<CommandResult> {
    return this.executor().then((e) => e.command(family, table, args));
  }

  ipset(args: readonly string[], input?: string): Promise<CommandResult> {
    return this.executor().then((e) => e.ipset(args, input));
  }

  private executor(): Promise<ExecIptables> {
    this.chosen ??= detectBackend(this.options.commands, this.options.prefix).then(
      (backend) => {
        this.detected = backend;
        return new ExecIptables({ ...this.options, backend });
      },
      (e: unknown) => {
        this.chosen = undefined;
        throw e;
      },
    );
    return this.chosen;
  }
}
