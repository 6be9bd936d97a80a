/**
 * Typed ruleset → transactions: a full (atomic) rewrite, or the incremental difference between two rulesets.
 * The incremental diff looks only at owners (the fixed part, service ports) whose group object changed, using a
 * TableIndex of the previous table, so its cost follows the change, not the table.
 */
import type { IPFamily } from '../../model/types.ts';
import type { Chain, Element, ElementRef, FamilyRuleset, ObjectGroup, Ruleset, SetDef } from './model.ts';
import { isEndpointMap } from './slots.ts';
import { BASE_OWNER, TableIndex } from './index.ts';
import { chainRuleTexts } from './render.ts';
import { Transaction } from './transaction.ts';

/** All objects of one family's table, keyed for lookups. Elements: set name → key text → element. */
export interface FlatTable {
  readonly family: IPFamily;
  readonly chains: ReadonlyMap<string, Chain>;
  readonly sets: ReadonlyMap<string, SetDef>;
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, Element>>;
}

/** Per family: the index of what the kernel holds, kept by the dataplane between syncs. */
export type TableIndexes = Map<IPFamily, TableIndex>;

const ELEMENT_BATCH = 1000;

/** Endpoint-map elements (not in the TableIndex) by map name, gathered from the groups. */
const endpointMapElements = (fr: FamilyRuleset): Map<string, Element[]> => {
  const out = new Map<string, Element[]>();
  for (const g of fr.services.values()) {
    for (const e of g.elements) {
      if (!isEndpointMap(e.set)) continue;
      const list = out.get(e.set);
      if (list === undefined) out.set(e.set, [e]);
      else list.push(e);
    }
  }
  return out;
};

export const flatten = (fr: FamilyRuleset): FlatTable => {
  const ix = TableIndex.of(fr);
  const byMap = endpointMapElements(fr);
  const elements = new Map<string, Map<string, Element>>();
  for (const name of ix.sets.keys()) {
    elements.set(name, isEndpointMap(name) ? new Map((byMap.get(name) ?? []).map((e) => [e.key, e])) : new Map(ix.elements(name)));
  }
  return { family: ix.family, chains: ix.chains, sets: ix.sets, elements };
};

const sameValue = (a: Element, b: Element): boolean => a.value === b.value;

const sameChain = (a: Chain, b: Chain, family: IPFamily): boolean => {
  if (a === b) return true;
  const ta = chainRuleTexts(a, family);
  const tb = chainRuleTexts(b, family);
  return ta.length === tb.length && ta.every((t, i) => t === tb[i]) && JSON.stringify(a.base) === JSON.stringify(b.base);
};

const sameSet = (a: SetDef, b: SetDef): boolean =>
  a.kind === b.kind && a.key.join() === b.key.join() && a.flags.join() === b.flags.join() && a.endpointProto === b.endpointProto;

/** One element command per ELEMENT_BATCH elements (no copy of the whole list is made). */
const addElements = (tx: Transaction, family: IPFamily, set: SetDef, elements: Iterable<Element>, verb: 'add' | 'delete'): void => {
  let batch: Element[] = [];
  const emit = (): void => {
    if (verb === 'add') tx.add(family, { kind: 'elements', set, elements: batch });
    else tx.delete(family, { kind: 'elements', set, elements: batch });
    batch = [];
  };
  for (const e of elements) {
    batch.push(e);
    if (batch.length === ELEMENT_BATCH) emit();
  }
  if (batch.length > 0) emit();
};

function* valuesOf<K, V>(entries: Iterable<[K, V]>): Generator<V, void, undefined> {
  for (const [, v] of entries) yield v;
}

type Stale = ReadonlyMap<IPFamily, { readonly chains: readonly string[]; readonly sets: readonly { name: string; kind: 'set' | 'map' }[] }>;

/**
 * Full sync: `add table` + `flush table` + `flush set` for each set we fill empties everything atomically in the same
 * transaction that refills it, so the old rules serve until the commit. Chains and sets that exist in the kernel but are no longer
 * wanted (`stale`, from a listing or the last applied ruleset) are deleted last, once nothing refers to them.
 * `indexes`, when given, receives the index of each family's new table.
 */
export const fullTransaction = (ruleset: Ruleset, stale: Stale = new Map(), tx: Transaction = new Transaction(), indexes?: TableIndexes): Transaction => {
  for (const fr of ruleset.families) {
    const f = fr.family;
    const ix = TableIndex.of(fr);
    indexes?.set(f, ix);
    tx.add(f, { kind: 'table' });
    tx.flush(f, { kind: 'table' });
    for (const s of ix.sets.values()) tx.add(f, { kind: 'set', set: s });
    // `flush table` empties chains only: sets and maps keep their elements, and re-adding a key with another value
    // would fail ("File exists"). Each set is flushed right after it is declared (so it surely exists) — except the
    // dynamic ones: the packet path fills those (ClientIP affinity), we never add to them, and flushing them would
    // forget every client's endpoint at each periodic full resync.
    for (const s of ix.sets.values()) if (!s.flags.includes('dynamic')) tx.flush(f, { kind: 'set', set: s });
    for (const c of ix.chains.values()) tx.add(f, { kind: 'chain', chain: c });
    for (const c of ix.chains.values()) tx.add(f, { kind: 'rules', chain: c });
    const byMap = endpointMapElements(fr);
    for (const [name, s] of ix.sets) addElements(tx, f, s, isEndpointMap(name) ? (byMap.get(name) ?? []) : valuesOf(ix.elements(name)), 'add');
    const gone = stale.get(f);
    if (gone !== undefined) {
      for (const c of gone.chains) if (!ix.chains.has(c)) tx.delete(f, { kind: 'chain', chain: { name: c } });
      for (const s of gone.sets) if (!ix.sets.has(s.name)) tx.delete(f, { kind: 'set', set: { ...s, key: [], flags: [] } });
    }
  }
  return tx;
};

const sameGroup = (a: ObjectGroup, b: ObjectGroup, family: IPFamily): boolean => {
  if (a === b) return true;
  if (a.chains.length !== b.chains.length || a.sets.length !== b.sets.length || a.elements.length !== b.elements.length) return false;
  return (
    a.chains.every((c, i) => c.name === b.chains[i]!.name && sameChain(c, b.chains[i]!, family)) &&
    a.sets.every((s, i) => s.name === b.sets[i]!.name && sameSet(s, b.sets[i]!)) &&
    a.elements.every((e, i) => {
      const o = b.elements[i]!;
      return e.set === o.set && e.key === o.key && e.value === o.value;
    })
  );
};

interface OwnerChange {
  readonly owner: string;
  readonly before: ObjectGroup | undefined;
  readonly after: ObjectGroup | undefined;
}

/**
 * Owners whose group differs between two rulesets of one family (the fixed part as BASE_OWNER). With `candidates`,
 * only those services are compared (every other one is known to be the same).
 */
const ownerChanges = (prev: FamilyRuleset, next: FamilyRuleset, candidates?: ReadonlySet<string>): OwnerChange[] => {
  const out: OwnerChange[] = [];
  if (!sameGroup(prev.base, next.base, next.family)) out.push({ owner: BASE_OWNER, before: prev.base, after: next.base });
  if (candidates !== undefined) {
    for (const id of candidates) {
      const before = prev.services.get(id);
      const after = next.services.get(id);
      if (before === undefined ? after !== undefined : after === undefined || !sameGroup(before, after, next.family)) {
        out.push({ owner: id, before, after });
      }
    }
    return out.sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  }
  for (const [id, g] of next.services) {
    const old = prev.services.get(id);
    if (old === undefined || !sameGroup(old, g, next.family)) out.push({ owner: id, before: old, after: g });
  }
  for (const [id, g] of prev.services) if (!next.services.has(id)) out.push({ owner: id, before: g, after: undefined });
  return out;
};

/** Names of the services whose group differs between two rulesets (added, removed or changed). */
export const changedServiceIds = (prev: Ruleset, next: Ruleset): Set<string> => {
  const changed = new Set<string>();
  for (const nf of next.families) {
    const pf = prev.families.find((f) => f.family === nf.family);
    if (pf === undefined) {
      for (const id of nf.services.keys()) changed.add(id);
      continue;
    }
    for (const c of ownerChanges(pf, nf)) if (c.owner !== BASE_OWNER) changed.add(c.owner);
  }
  return changed;
};

/**
 * Incremental sync: only what differs. Order keeps every reference valid at each step: new sets and chains first,
 * then rewritten chains (flush + rules), element deletions before additions, and finally removed chains (flushed,
 * then deleted) and removed sets, when nothing points at them any more.
 *
 * `indexes` (the index of `prev`'s tables, as fullTransaction or an earlier diff left it) is updated in place to
 * describe `next`; without it one is built from `prev`. `candidates` (plan ids), when given, are the only services
 * that may differ: no other one is looked at. Returns the ids of the services that changed.
 */
export const diffTransaction = (
  prev: Ruleset,
  next: Ruleset,
  tx: Transaction = new Transaction(),
  indexes: TableIndexes = new Map(),
  candidates?: ReadonlySet<string>,
): { tx: Transaction; changed: Set<string> } => {
  const changedIds = new Set<string>();
  for (const nfr of next.families) {
    const f = nfr.family;
    const pfr = prev.families.find((x) => x.family === f);
    if (pfr === undefined) {
      fullTransaction({ families: [nfr] }, new Map(), tx, indexes);
      for (const id of nfr.services.keys()) changedIds.add(id);
      continue;
    }
    let ix = indexes.get(f);
    if (ix === undefined) {
      ix = TableIndex.of(pfr);
      indexes.set(f, ix);
    }
    const changes = ownerChanges(pfr, nfr, candidates);
    for (const c of changes) if (c.owner !== BASE_OWNER) changedIds.add(c.owner);
    diffFamily(nfr, ix, changes, tx);
  }
  return { tx, changed: changedIds };
};

const diffFamily = (next: FamilyRuleset, ix: TableIndex, changes: readonly OwnerChange[], tx: Transaction): void => {
  const f = next.family;
  const oldSets = new Map<string, SetDef>();
  const newSets = new Map<string, SetDef>();
  const oldChains = new Map<string, Chain>();
  const newChains = new Map<string, Chain>();
  for (const c of changes) {
    for (const s of c.before?.sets ?? []) oldSets.set(s.name, s);
    for (const s of c.after?.sets ?? []) newSets.set(s.name, s);
    for (const ch of c.before?.chains ?? []) oldChains.set(ch.name, ch);
    for (const ch of c.after?.chains ?? []) newChains.set(ch.name, ch);
  }

  const recreated = new Set<string>();
  for (const [name, s] of newSets) {
    const old = ix.sets.get(name);
    if (old === undefined) tx.add(f, { kind: 'set', set: s });
    else if (!sameSet(old, s)) recreated.add(name);
  }
  for (const [name, c] of newChains) if (!ix.chains.has(name)) tx.add(f, { kind: 'chain', chain: c });
  for (const [name, c] of newChains) {
    const old = ix.chains.get(name);
    if (old !== undefined && sameChain(old, c, f)) continue;
    if (old !== undefined) tx.flush(f, { kind: 'chain', chain: c });
    tx.add(f, { kind: 'rules', chain: c });
  }
  const goneSets = [...oldSets.keys()].filter((n) => !newSets.has(n));
  const goneChains = [...oldChains.keys()].filter((n) => !newChains.has(n));

  // Elements: move the changed owners' claims, then compare what each touched key holds before and after.
  const touched = new Map<string, Map<string, Element | undefined>>();
  const touch = (set: string, key: string): void => {
    let m = touched.get(set);
    if (m === undefined) {
      m = new Map();
      touched.set(set, m);
    }
    if (!m.has(key)) m.set(key, ix.effective(set, key));
  };
  // Endpoint-map slots are exclusive: a slot changes hands only between changed owners, so what it holds before
  // and after is in the changed groups themselves.
  const slotsBefore = new Map<string, Map<string, Element>>();
  const slotsAfter = new Map<string, Map<string, Element>>();
  const record = (by: Map<string, Map<string, Element>>, e: ElementRef): void => {
    let m = by.get(e.set);
    if (m === undefined) {
      m = new Map();
      by.set(e.set, m);
    }
    m.set(e.key, e);
  };
  for (const c of changes) {
    for (const e of c.before?.elements ?? []) {
      if (isEndpointMap(e.set)) {
        record(slotsBefore, e);
        continue;
      }
      touch(e.set, e.key);
      ix.release(e);
    }
  }
  for (const c of changes) {
    for (const e of c.after?.elements ?? []) {
      if (isEndpointMap(e.set)) {
        record(slotsAfter, e);
        continue;
      }
      touch(e.set, e.key);
      ix.claim(e);
    }
  }
  for (const n of goneSets) ix.sets.delete(n);
  for (const [n, s] of newSets) ix.sets.set(n, s);
  for (const n of goneChains) ix.chains.delete(n);
  for (const [n, c] of newChains) ix.chains.set(n, c);

  const adds: [SetDef, Element[]][] = [];
  for (const set of new Set([...slotsBefore.keys(), ...slotsAfter.keys()])) {
    const def = ix.sets.get(set);
    if (def === undefined || recreated.has(set)) continue;
    const before = slotsBefore.get(set) ?? new Map<string, Element>();
    const after = slotsAfter.get(set) ?? new Map<string, Element>();
    const differs = (e: Element, other: Element | undefined): boolean => other === undefined || !sameValue(e, other);
    addElements(tx, f, def, [...before.values()].filter((e) => differs(e, after.get(e.key))), 'delete');
    const added = [...after.values()].filter((e) => differs(e, before.get(e.key)));
    if (added.length > 0) adds.push([def, added]);
  }
  for (const [set, keys] of touched) {
    const def = ix.sets.get(set);
    if (def === undefined || recreated.has(set)) continue; // gone (deleted whole) or re-filled below
    const removed: Element[] = [];
    const added: Element[] = [];
    for (const [k, before] of keys) {
      const after = ix.effective(set, k);
      if (before !== undefined && (after === undefined || !sameValue(before, after))) removed.push(before);
      if (after !== undefined && (before === undefined || !sameValue(before, after))) added.push(after);
    }
    addElements(tx, f, def, removed, 'delete');
    if (added.length > 0) adds.push([def, added]);
  }
  for (const [def, added] of adds) addElements(tx, f, def, added, 'add');

  for (const c of goneChains) tx.flush(f, { kind: 'chain', chain: { name: c } });
  for (const c of goneChains) tx.delete(f, { kind: 'chain', chain: { name: c } });
  for (const name of goneSets) tx.delete(f, { kind: 'set', set: oldSets.get(name)! });
  for (const name of recreated) {
    const s = ix.sets.get(name)!;
    tx.delete(f, { kind: 'set', set: s });
    tx.add(f, { kind: 'set', set: s });
    addElements(tx, f, s, isEndpointMap(name) ? (endpointMapElements(next).get(name) ?? []) : valuesOf(ix.elements(name)), 'add');
  }
};
