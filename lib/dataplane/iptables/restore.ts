/**
 * `iptables-restore --noflush` input from rendered tables. Pure.
 *
 * A chain is rewritten by declaring it (`:NAME - [0:0]` creates it or flushes it) and appending its rules; a chain
 * that is gone is declared (flushed) and then deleted with `-X` at the end of its table, after every rule that
 * referenced it has been rewritten. Tables are written mangle, filter, nat; each ends in COMMIT (atomic per table).
 */
import { jumpTarget, parseRule, type Rule, type TableName } from './model.ts';
import type { Tables } from './rules.ts';

export const TABLE_ORDER: readonly TableName[] = ['mangle', 'filter', 'nat'];

export interface RestoreInput {
  readonly text: string;
  /** Chains written (declared and filled) and deleted, over all tables. */
  readonly written: number;
  readonly deleted: number;
}

const sameRules = (a: readonly string[] | undefined, b: readonly string[]): boolean => {
  if (a === b) return true;
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

type PerTable<T> = Record<TableName, T>;

/** Chains to write (new or rules changed) and to delete, per table, in the order of `next`. */
export interface ChainChanges {
  readonly write: PerTable<readonly string[]>;
  readonly gone: PerTable<readonly string[]>;
}

/**
 * `previous` undefined = full: every chain of `next` is written. Otherwise only chains that are new or whose rules
 * changed. `stale` names chains to delete besides those in `previous` but not in `next` (full sync: what the kernel
 * holds).
 */
export const chainChanges = (
  next: Tables<string>,
  previous: Tables<string> | undefined,
  stale: Readonly<Partial<Record<TableName, readonly string[]>>> = {},
): ChainChanges => {
  const write = { mangle: [], filter: [], nat: [] } as PerTable<string[]>;
  const gone = { mangle: [], filter: [], nat: [] } as PerTable<string[]>;
  for (const table of TABLE_ORDER) {
    const nextChains = next[table];
    const prevChains = previous?.[table];
    for (const [name, rules] of nextChains) {
      if (prevChains === undefined || !sameRules(prevChains.get(name), rules)) write[table].push(name);
    }
    const g = new Set<string>(stale[table] ?? []);
    if (prevChains !== undefined) for (const name of prevChains.keys()) g.add(name);
    for (const name of nextChains.keys()) g.delete(name);
    gone[table] = [...g];
  }
  return { write, gone };
};

/** Input declaring and filling `write`, then flushing (`:NAME`) and deleting `gone` chains; '' when both are empty. */
const renderInput = (next: Tables<string>, write: Readonly<Partial<PerTable<readonly string[]>>>, gone: Readonly<Partial<PerTable<readonly string[]>>>): string => {
  const out: string[] = [];
  for (const table of TABLE_ORDER) {
    const w = write[table] ?? [];
    const g = gone[table] ?? [];
    if (w.length === 0 && g.length === 0) continue;
    out.push(`*${table}`);
    for (const name of w) out.push(`:${name} - [0:0]`);
    for (const name of g) out.push(`:${name} - [0:0]`);
    for (const name of w) for (const rule of next[table].get(name)!) out.push(`-A ${name} ${rule}`);
    for (const name of g) out.push(`-X ${name}`);
    out.push('COMMIT');
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
};

/** One input with every change (atomic per table). Returns empty text when nothing changed. */
export const restoreInput = (
  next: Tables<string>,
  previous: Tables<string> | undefined,
  stale: Readonly<Partial<Record<TableName, readonly string[]>>> = {},
): RestoreInput => {
  const { write, gone } = chainChanges(next, previous, stale);
  const count = (x: PerTable<readonly string[]>): number => TABLE_ORDER.reduce((n, t) => n + x[t].length, 0);
  return { text: renderInput(next, write, gone), written: count(write), deleted: count(gone) };
};

const batches = <T>(xs: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
};

/**
 * The same changes as restoreInput, split into several inputs of at most ~`maxChains` chains each when there are
 * more (iptables-nft-restore's time grows faster than linearly with the chains one input names; several smaller
 * inputs are linear). Order keeps every step consistent: (1) fixed chains that jump to no service chain (MARK-MASQ,
 * POSTROUTING, …), (2) service chains in batches, each group's chains in one batch and callees before callers as
 * `next` orders them — nothing reaches a new chain yet, (3) the remaining fixed chains (SERVICES, NODEPORTS, …: the
 * switch to the new rules, atomic per table) with the deletions when few, (4) else gone chains flushed, then deleted,
 * in batches (after step 3 only gone chains reference gone chains). `groupOf(table, chain)` names a service chain's
 * group (undefined for fixed chains). One input, as restoreInput, when the changes fit in `maxChains`.
 */
export const restoreChunks = (
  next: Tables<string>,
  previous: Tables<string> | undefined,
  stale: Readonly<Partial<Record<TableName, readonly string[]>>>,
  groupOf: (table: TableName, chain: string) => string | undefined,
  maxChains: number,
): string[] => {
  const { write, gone } = chainChanges(next, previous, stale);
  const total = TABLE_ORDER.reduce((n, t) => n + write[t].length + gone[t].length, 0);
  if (total <= maxChains) {
    const text = renderInput(next, write, gone);
    return text === '' ? [] : [text];
  }
  const out: string[] = [];
  const push = (text: string): void => {
    if (text !== '') out.push(text);
  };
  const leaf = { mangle: [], filter: [], nat: [] } as PerTable<string[]>;
  const last = { mangle: [], filter: [], nat: [] } as PerTable<string[]>;
  const own: { table: TableName; name: string; group: string }[] = [];
  for (const table of TABLE_ORDER) {
    for (const name of write[table]) {
      const group = groupOf(table, name);
      if (group !== undefined) own.push({ table, name, group });
      else if (next[table].get(name)!.some((r) => { const j = jumpTarget(r); return j !== undefined && groupOf(table, j) !== undefined; })) last[table].push(name);
      else leaf[table].push(name);
    }
  }
  push(renderInput(next, leaf, {}));
  // Batches end at group boundaries, so a group's chains (which jump to each other) go in together.
  let batch = { mangle: [], filter: [], nat: [] } as PerTable<string[]>;
  let size = 0;
  for (let i = 0; i < own.length; i++) {
    const c = own[i]!;
    batch[c.table].push(c.name);
    size++;
    if (size >= maxChains && own[i + 1]?.group !== c.group) {
      push(renderInput(next, batch, {}));
      batch = { mangle: [], filter: [], nat: [] };
      size = 0;
    }
  }
  push(renderInput(next, batch, {}));
  const goneCount = TABLE_ORDER.reduce((n, t) => n + gone[t].length, 0);
  if (goneCount <= maxChains) {
    push(renderInput(next, last, gone));
    return out;
  }
  push(renderInput(next, last, {}));
  for (const verb of ['-F', '-X']) {
    for (const table of TABLE_ORDER) {
      for (const b of batches(gone[table], maxChains)) push(`*${table}\n${b.map((n) => `${verb} ${n}`).join('\n')}\nCOMMIT\n`);
    }
  }
  return out;
};

/** Names of chains declared in `iptables-save` output that satisfy `keep`. */
export const savedChains = (saved: string, keep: (name: string) => boolean): string[] => {
  const names: string[] = [];
  for (const line of saved.split('\n')) {
    if (!line.startsWith(':')) continue;
    const name = line.slice(1, line.indexOf(' ') < 0 ? undefined : line.indexOf(' '));
    if (keep(name)) names.push(name);
  }
  return names;
};

/** `-A <chain> …` lines of `iptables-save` output whose chain satisfies `chain` and whose text satisfies `rule`. */
export const savedRules = (saved: string, chain: (name: string) => boolean, rule: (text: string) => boolean): { chain: string; text: string }[] => {
  const out: { chain: string; text: string }[] = [];
  for (const line of saved.split('\n')) {
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m !== null && chain(m[1]!) && rule(m[2]!)) out.push({ chain: m[1]!, text: m[2]! });
  }
  return out;
};

/** Every chain of one table in `iptables-save` output, rules parsed to the typed form (for tracing a kernel dump). */
export const parseSavedTable = (saved: string): Map<string, Rule[]> => {
  const chains = new Map<string, Rule[]>();
  for (const name of savedChains(saved, () => true)) chains.set(name, []);
  for (const r of savedRules(saved, () => true, () => true)) chains.get(r.chain)?.push(parseRule(r.text));
  return chains;
};
