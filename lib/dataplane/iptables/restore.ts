/**
 * `iptables-restore --noflush` input from rendered tables. Pure.
 *
 * A chain is rewritten by declaring it (`:NAME - [0:0]` creates it or flushes it) and appending its rules; a chain
 * that is gone is declared (flushed) and then deleted with `-X` at the end of its table, after every rule that
 * referenced it has been rewritten. Tables are written mangle, filter, nat; each ends in COMMIT (atomic per table).
 */
import { parseRule, type Rule, type TableName } from './model.ts';
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

/**
 * `previous` undefined = full: every chain of `next` is written. Otherwise only chains that are new or whose rules
 * changed. `stale` names chains to delete besides those in `previous` but not in `next` (full sync: what the kernel
 * holds). Returns empty text when nothing changed.
 */
export const restoreInput = (
  next: Tables<string>,
  previous: Tables<string> | undefined,
  stale: Readonly<Partial<Record<TableName, readonly string[]>>> = {},
): RestoreInput => {
  const out: string[] = [];
  let written = 0;
  let deleted = 0;
  for (const table of TABLE_ORDER) {
    const nextChains = next[table];
    const prevChains = previous?.[table];
    const write: string[] = [];
    for (const [name, rules] of nextChains) {
      if (prevChains === undefined || !sameRules(prevChains.get(name), rules)) write.push(name);
    }
    const gone = new Set<string>(stale[table] ?? []);
    if (prevChains !== undefined) for (const name of prevChains.keys()) gone.add(name);
    for (const name of nextChains.keys()) gone.delete(name);
    if (write.length === 0 && gone.size === 0) continue;
    out.push(`*${table}`);
    for (const name of write) out.push(`:${name} - [0:0]`);
    for (const name of gone) out.push(`:${name} - [0:0]`);
    for (const name of write) for (const rule of nextChains.get(name)!) out.push(`-A ${name} ${rule}`);
    for (const name of gone) out.push(`-X ${name}`);
    out.push('COMMIT');
    written += write.length;
    deleted += gone.size;
  }
  return { text: out.length === 0 ? '' : `${out.join('\n')}\n`, written, deleted };
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
