/**
 * The hairpin ipsets (one per family, `hash:ip,port,ip`) as `ipset restore` scripts: members counted over service
 * groups (two services may share an endpoint), a full rebuild that fills a scratch set and swaps it in (the live set
 * is never empty half-way, and a bigger maxelem takes effect), and add/del deltas for partial syncs. Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { hairpinSet, hairpinSetScratch } from './names.ts';
import type { RuleGroup } from './rules.ts';

const TYPE = 'hash:ip,port,ip';
const MIN_MAXELEM = 65_536;

/** Room for twice `count` members (partial syncs add before they delete), a power of two, at least ipset's default. */
export const hairpinMaxelem = (count: number): number => {
  let m = MIN_MAXELEM;
  while (m < count * 2) m *= 2;
  return m;
};

const create = (name: string, family: IPFamily, maxelem: number): string => `create ${name} ${TYPE} family ${family === 4 ? 'inet' : 'inet6'} maxelem ${maxelem}`;

/** Member → number of groups using it. */
export const countMembers = (groups: Iterable<RuleGroup<string>>): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const g of groups) for (const m of g.hairpin ?? []) counts.set(m, (counts.get(m) ?? 0) + 1);
  return counts;
};

/**
 * Rebuilds the live set with exactly `members`: a scratch set (destroyed first when a crashed run left one) is
 * filled and swapped with the live one (created empty first when missing), then destroyed.
 */
export const fullScript = (family: IPFamily, members: Iterable<string>, maxelem: number, existing: ReadonlySet<string>): string => {
  const live = hairpinSet(family);
  const scratch = hairpinSetScratch(family);
  const out: string[] = [];
  if (existing.has(scratch)) out.push(`destroy ${scratch}`);
  out.push(create(scratch, family, maxelem));
  for (const m of members) out.push(`add ${scratch} ${m} -exist`);
  if (!existing.has(live)) out.push(create(live, family, maxelem));
  out.push(`swap ${scratch} ${live}`, `destroy ${scratch}`);
  return `${out.join('\n')}\n`;
};

export const addScript = (family: IPFamily, members: readonly string[]): string =>
  members.length === 0 ? '' : `${members.map((m) => `add ${hairpinSet(family)} ${m} -exist`).join('\n')}\n`;

export const delScript = (family: IPFamily, members: readonly string[]): string =>
  members.length === 0 ? '' : `${members.map((m) => `del ${hairpinSet(family)} ${m} -exist`).join('\n')}\n`;

/**
 * Moves `counts` from the members of `before` to those of `after` (in place) and returns the members that appear
 * (0 → 1) and disappear (1 → 0).
 */
export const shiftMembers = (counts: Map<string, number>, before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } => {
  const added: string[] = [];
  const removed: string[] = [];
  for (const m of after) {
    const n = counts.get(m) ?? 0;
    counts.set(m, n + 1);
    if (n === 0) added.push(m);
  }
  for (const m of before) {
    const n = counts.get(m) ?? 0;
    if (n <= 1) {
      counts.delete(m);
      // Re-added by `after` in this same call: it stays.
      if (!added.includes(m)) removed.push(m);
      else added.splice(added.indexOf(m), 1);
    } else counts.set(m, n - 1);
  }
  return { added, removed };
};
