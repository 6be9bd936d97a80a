/**
 * A fake iptables kernel for one backend: parses `iptables-restore --noflush` input and applies it all-or-nothing
 * per table (each COMMIT swaps that table in; an error discards it and stops, as the real tool does), checking
 * that chains exist, that `-X` deletes empty chains, that every jump names an existing chain after the commit,
 * that every rule parses into the typed form and uses targets valid in its table, and that every `-m set` names an
 * existing set of the rule's family (iptables mode's hairpin sets; IPVS mode's sets live in its own fake). Also answers `-C/-I/-D/-S` and `iptables-save` for the jump rules and cleanup,
 * and models ipsets (`ipset restore` applied line by line until an error, as the real tool does; a set a rule uses
 * cannot be destroyed; `hash:*` sets refuse members beyond maxelem).
 */
import { SwitchyardError } from '../../errors.ts';
import type { CommandResult } from '../../exec/command.ts';
import type { IPFamily } from '../../model/types.ts';
import type { IptablesBackend, IptablesExecutor } from './exec.ts';
import { BUILTIN_CHAINS, jumpTarget, parseRule, type Rule, type TableName } from './model.ts';
import { TABLE_ORDER } from './restore.ts';
import type { Tables } from './rules.ts';
import { ipPortIpLookup, type SetLookup } from './trace.ts';

interface FakeSet {
  readonly type: string;
  readonly family: 'inet' | 'inet6';
  readonly maxelem: number;
  readonly members: Set<string>;
}

const MEMBER = /^([0-9a-fA-F.:]+),(tcp|udp|sctp):(\d+),([0-9a-fA-F.:]+)$/;

type TableState = Map<string, string[]>;

const newTable = (t: TableName): TableState => new Map(BUILTIN_CHAINS[t].map((c) => [c, []]));
const NAT_ONLY = new Set(['DNAT', 'MASQUERADE']);
const NOT_IN_NAT = new Set(['REJECT', 'DROP']);

const fail = (msg: string): never => {
  throw new SwitchyardError('ERR_DATAPLANE_APPLY', msg);
};

const checkRule = (table: TableName, text: string, where: string, setFamily: (name: string) => string | undefined, family: IPFamily): void => {
  let rule: Rule;
  try {
    rule = parseRule(text);
  } catch (e) {
    return fail(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const t = rule.target.t;
  if (table !== 'nat' && NAT_ONLY.has(t)) fail(`${where}: target ${t} is only valid in the nat table`);
  if (table === 'nat' && NOT_IN_NAT.has(t)) fail(`${where}: target ${t} is not valid in the nat table`);
  for (const m of rule.matches) {
    // Only iptables mode's own sets are modelled here (IPVS mode's live in its kernel fake).
    if (m.m !== 'set' || !m.name.startsWith('SWITCHYARD-HAIRPIN')) continue;
    const f = setFamily(m.name);
    if (f === undefined) fail(`${where}: Set ${m.name} doesn't exist.`);
    if (f !== (family === 4 ? 'inet' : 'inet6')) fail(`${where}: set ${m.name} is of family ${f}, the rule of IPv${family}`);
  }
};

export class FakeIptables implements IptablesExecutor {
  readonly backend: IptablesBackend;
  private readonly state: Record<IPFamily, Record<TableName, TableState>>;
  /** Every restore input accepted or refused, in order. */
  readonly restores: { family: IPFamily; input: string }[] = [];
  readonly commands: { family: IPFamily; table: TableName; args: readonly string[] }[] = [];
  /** When set, the next restore fails with this message (after nothing is applied). */
  failNextRestore: string | undefined;
  /** ipsets by name (shared by both families, as in the kernel). */
  private readonly sets = new Map<string, FakeSet>();
  readonly ipsetCalls: { args: readonly string[]; input: string | undefined }[] = [];
  /** When set, the next `ipset` call fails with this message. */
  failNextIpset: string | undefined;

  constructor(backend: IptablesBackend = 'nft') {
    this.backend = backend;
    this.state = { 4: this.emptyFamily(), 6: this.emptyFamily() };
  }

  private emptyFamily(): Record<TableName, TableState> {
    return { filter: newTable('filter'), nat: newTable('nat'), mangle: newTable('mangle') };
  }

  restore(family: IPFamily, input: string): Promise<void> {
    this.restores.push({ family, input });
    try {
      if (this.failNextRestore !== undefined) {
        const m = this.failNextRestore;
        this.failNextRestore = undefined;
        fail(m);
      }
      this.apply(family, input);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private apply(family: IPFamily, input: string): void {
    let table: TableName | undefined;
    let work: TableState | undefined;
    const lines = input.split('\n');
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n]!;
      const where = `line ${n + 1}`;
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('*')) {
        if (work !== undefined) fail(`${where}: table ${table} not committed`);
        table = line.slice(1) as TableName;
        if (!TABLE_ORDER.includes(table)) fail(`${where}: unknown table ${table}`);
        // Copy-on-write: arrays are replaced, never mutated, so sharing them with the live table is safe.
        work = new Map(this.state[family][table]);
        continue;
      }
      if (work === undefined || table === undefined) return fail(`${where}: command outside a table: ${line}`);
      if (line === 'COMMIT') {
        for (const [chain, rules] of work) {
          for (const r of rules) {
            const target = jumpTarget(r);
            if (target !== undefined && !work.has(target)) fail(`table ${table}: chain ${chain} jumps to missing chain ${target}`);
          }
        }
        this.state[family][table] = work;
        work = undefined;
        continue;
      }
      const decl = /^:(\S+) (\S+) \[\d+:\d+\]$/.exec(line);
      if (decl !== null) {
        const name = decl[1]!;
        if (name.length > 28) fail(`${where}: chain name too long: ${name}`);
        if (!BUILTIN_CHAINS[table].includes(name)) work.set(name, []);
        continue;
      }
      const cmd = /^(-[AIDXFN]) (\S+)(?: (.*))?$/.exec(line);
      if (cmd === null) return fail(`${where}: cannot parse "${line}"`);
      const [, op, chain, rest] = cmd as unknown as [string, string, string, string | undefined];
      const rules = work.get(chain);
      if (op === '-N') {
        if (rules !== undefined) fail(`${where}: chain ${chain} already exists`);
        work.set(chain, []);
        continue;
      }
      if (rules === undefined) return fail(`${where}: no chain ${chain} in table ${table}`);
      switch (op) {
        case '-A':
        case '-I':
          checkRule(table, rest ?? '', where, (name) => this.sets.get(name)?.family, family);
          work.set(chain, op === '-A' ? [...rules, rest ?? ''] : [rest ?? '', ...rules]);
          break;
        case '-D': {
          const i = rules.indexOf(rest ?? '');
          if (i < 0) fail(`${where}: no such rule in ${chain}: ${rest}`);
          work.set(chain, rules.filter((_, k) => k !== i));
          break;
        }
        case '-F':
          work.set(chain, []);
          break;
        case '-X':
          if (BUILTIN_CHAINS[table].includes(chain)) fail(`${where}: cannot delete built-in chain ${chain}`);
          if (rules.length > 0) fail(`${where}: chain ${chain} is not empty`);
          work.delete(chain);
          break;
      }
    }
    if (work !== undefined) fail(`table ${table}: input ends without COMMIT`);
  }

  save(family: IPFamily, table: TableName): Promise<string> {
    const t = this.state[family][table];
    const lines = [`*${table}`];
    for (const name of t.keys()) lines.push(BUILTIN_CHAINS[table].includes(name) ? `:${name} ACCEPT [0:0]` : `:${name} - [0:0]`);
    for (const [name, rules] of t) for (const r of rules) lines.push(`-A ${name} ${r}`);
    lines.push('COMMIT', '');
    return Promise.resolve(lines.join('\n'));
  }

  command(family: IPFamily, table: TableName, args: readonly string[]): Promise<CommandResult> {
    this.commands.push({ family, table, args });
    const [op, chain, ...rest] = args;
    const t = this.state[family][table];
    const rules = chain === undefined ? undefined : t.get(chain);
    const text = rest.join(' ');
    const no = (msg: string): Promise<CommandResult> => Promise.resolve({ code: 1, stdout: '', stderr: msg });
    const ok = (stdout = ''): Promise<CommandResult> => Promise.resolve({ code: 0, stdout, stderr: '' });
    if (rules === undefined || chain === undefined) return no('iptables: No chain/target/match by that name.');
    switch (op) {
      case '-S':
        return ok(rules.map((r) => `-A ${chain} ${r}\n`).join(''));
      case '-C':
        return rules.includes(text) ? ok() : no('iptables: Bad rule (does a matching rule exist in that chain?).');
      case '-I':
      case '-A': {
        const target = jumpTarget(text);
        if (target !== undefined && !t.has(target)) return no(`iptables: Couldn't load target \`${target}'`);
        t.set(chain, op === '-I' ? [text, ...rules] : [...rules, text]);
        return ok();
      }
      case '-D': {
        const i = rules.indexOf(text);
        if (i < 0) return no('iptables: Bad rule (does a matching rule exist in that chain?).');
        t.set(chain, rules.filter((_, k) => k !== i));
        return ok();
      }
      default:
        return no(`fake iptables: unsupported command ${op}`);
    }
  }

  ipset(args: readonly string[], input?: string): Promise<CommandResult> {
    this.ipsetCalls.push({ args, input });
    const ok = (stdout = ''): Promise<CommandResult> => Promise.resolve({ code: 0, stdout, stderr: '' });
    const no = (stderr: string): Promise<CommandResult> => Promise.resolve({ code: 1, stdout: '', stderr: `ipset v7.17: ${stderr}\n` });
    if (this.failNextIpset !== undefined) {
      const m = this.failNextIpset;
      this.failNextIpset = undefined;
      return no(m);
    }
    try {
      const [op, ...rest] = args;
      if (op === 'restore') {
        const lines = (input ?? '').split('\n');
        for (let n = 0; n < lines.length; n++) {
          const line = lines[n]!.trim();
          if (line === '' || line.startsWith('#')) continue;
          try {
            this.ipsetLine(line.split(/\s+/));
          } catch (e) {
            return no(`Error in line ${n + 1}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        return ok();
      }
      if (op === 'list' && rest[0] === '-n') return ok([...this.sets.keys()].map((k) => `${k}\n`).join(''));
      if (op === 'save' && rest[0] !== undefined) {
        const s = this.getSet(rest[0]);
        return ok([`create ${rest[0]} ${s.type} family ${s.family} maxelem ${s.maxelem}`, ...[...s.members].map((m) => `add ${rest[0]} ${m}`), ''].join('\n'));
      }
      this.ipsetLine([op ?? '', ...rest]);
      return ok();
    } catch (e) {
      return no(e instanceof Error ? e.message : String(e));
    }
  }

  private getSet(name: string | undefined): FakeSet {
    const s = name === undefined ? undefined : this.sets.get(name);
    if (s === undefined) throw new Error(`The set with the given name does not exist`);
    return s;
  }

  private setInUse(name: string): boolean {
    const needle = `--match-set ${name} `;
    return ([4, 6] as const).some((f) => TABLE_ORDER.some((t) => [...this.state[f][t].values()].some((rules) => rules.some((r) => r.includes(needle)))));
  }

  private ipsetLine(tok: readonly string[]): void {
    const [op, name, ...rest] = tok;
    const exist = rest.includes('-exist');
    switch (op) {
      case 'create': {
        const [type, , family] = rest;
        const maxIdx = rest.indexOf('maxelem');
        const maxelem = maxIdx < 0 ? 65536 : Number(rest[maxIdx + 1]);
        if (type !== 'hash:ip,port,ip' || rest[1] !== 'family' || (family !== 'inet' && family !== 'inet6')) throw new Error(`fake ipset: unsupported create ${tok.join(' ')}`);
        const old = this.sets.get(name!);
        if (old !== undefined) {
          if (!exist || old.family !== family || old.maxelem !== maxelem) throw new Error('Set cannot be created: set with the same name already exists');
          return;
        }
        this.sets.set(name!, { type, family, maxelem, members: new Set() });
        return;
      }
      case 'add':
      case 'del': {
        const s = this.getSet(name);
        const member = rest[0] ?? '';
        const m = MEMBER.exec(member);
        if (m === null || m[1] !== m[4] || m[1]!.includes(':') !== (s.family === 'inet6')) throw new Error(`Syntax error: cannot parse ${member}`);
        if (op === 'add') {
          if (s.members.has(member)) {
            if (!exist) throw new Error("Element cannot be added to the set: it's already added");
          } else if (s.members.size >= s.maxelem) throw new Error('Hash is full, cannot add more elements');
          else s.members.add(member);
        } else if (!s.members.delete(member) && !exist) throw new Error("Element cannot be deleted from the set: it's not added");
        return;
      }
      case 'flush':
        this.getSet(name).members.clear();
        return;
      case 'swap': {
        const a = this.getSet(name);
        const b = this.getSet(rest[0]);
        if (a.type !== b.type || a.family !== b.family) throw new Error('The sets cannot be swapped: their type does not match');
        this.sets.set(name!, b);
        this.sets.set(rest[0]!, a);
        return;
      }
      case 'destroy':
        this.getSet(name);
        if (this.setInUse(name!)) throw new Error('Set cannot be destroyed: it is in use by a kernel component');
        this.sets.delete(name!);
        return;
      default:
        throw new Error(`fake ipset: unsupported command ${op}`);
    }
  }

  /** A set's members (undefined = no such set). */
  setMembers(name: string): ReadonlySet<string> | undefined {
    return this.sets.get(name)?.members;
  }

  /** The sets as the packet tracer looks them up. */
  setLookup(): SetLookup {
    return ipPortIpLookup((name) => this.sets.get(name)?.members);
  }

  /** What someone running `iptables -t <table> -F; -X` would do: flush every chain and delete user chains. */
  flushTable(family: IPFamily, table: TableName): void {
    this.state[family][table] = newTable(table);
  }

  /** The table's chains as rule texts (built-in chains included). */
  chains(family: IPFamily, table: TableName): ReadonlyMap<string, readonly string[]> {
    return this.state[family][table];
  }

  /** Every table parsed to the typed form, for the packet tracer. */
  typedTables(family: IPFamily): Tables<Rule> {
    const parse = (t: TableState): ReadonlyMap<string, readonly Rule[]> => new Map([...t].map(([k, v]) => [k, v.map((r) => parseRule(r))]));
    const s = this.state[family];
    return { filter: parse(s.filter), nat: parse(s.nat), mangle: parse(s.mangle) };
  }
}
