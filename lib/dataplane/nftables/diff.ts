/**
 * Typed ruleset → transactions: a full (atomic) rewrite, or the incremental difference between two rulesets.
 * Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import type { Chain, Element, FamilyRuleset, ObjectGroup, Ruleset, SetDef } from './model.ts';
import { chainRuleTexts, renderElementKey, renderVerdict } from './render.ts';
import { Transaction } from './transaction.ts';

/** All objects of one family's table, keyed for diffing. Elements: set name → key text → element. */
export interface FlatTable {
  readonly family: IPFamily;
  readonly chains: Map<string, Chain>;
  readonly sets: Map<string, SetDef>;
  readonly elements: Map<string, Map<string, Element>>;
}

const ELEMENT_BATCH = 1000;

export const flatten = (fr: FamilyRuleset): FlatTable => {
  const flat: FlatTable = { family: fr.family, chains: new Map(), sets: new Map(), elements: new Map() };
  const addGroup = (g: ObjectGroup): void => {
    for (const c of g.chains) if (!flat.chains.has(c.name)) flat.chains.set(c.name, c);
    for (const s of g.sets) {
      if (!flat.sets.has(s.name)) {
        flat.sets.set(s.name, s);
        flat.elements.set(s.name, new Map());
      }
    }
  };
  addGroup(fr.base);
  for (const g of fr.services.values()) addGroup(g);
  const addElements = (g: ObjectGroup): void => {
    for (const { set, element } of g.elements) {
      const m = flat.elements.get(set);
      const k = renderElementKey(element);
      // First owner wins when two services claim the same key (e.g. one external IP:port twice).
      if (m !== undefined && !m.has(k)) m.set(k, element);
    }
  };
  addElements(fr.base);
  for (const g of fr.services.values()) addElements(g);
  return flat;
};

const sameVerdict = (a: Element, b: Element): boolean =>
  (a.value === undefined ? '' : renderVerdict(a.value)) === (b.value === undefined ? '' : renderVerdict(b.value));

const sameChain = (a: Chain, b: Chain, family: IPFamily): boolean => {
  if (a === b) return true;
  const ta = chainRuleTexts(a, family);
  const tb = chainRuleTexts(b, family);
  return ta.length === tb.length && ta.every((t, i) => t === tb[i]) && JSON.stringify(a.base) === JSON.stringify(b.base);
};

const sameSet = (a: SetDef, b: SetDef): boolean =>
  a.kind === b.kind && a.key.join() === b.key.join() && a.flags.join() === b.flags.join();

const addElements = (tx: Transaction, family: IPFamily, set: SetDef, elements: readonly Element[], verb: 'add' | 'delete'): void => {
  for (let i = 0; i < elements.length; i += ELEMENT_BATCH) {
    const batch = elements.slice(i, i + ELEMENT_BATCH);
    if (verb === 'add') tx.add(family, { kind: 'elements', set, elements: batch });
    else tx.delete(family, { kind: 'elements', set, elements: batch });
  }
};

/**
 * Full sync: `add table` + `flush table` empties every chain and set atomically in the same transaction that
 * refills them, so the old rules serve until the commit. Chains and sets that exist in the kernel but are no longer
 * wanted (`stale`, from a listing or the last applied ruleset) are deleted last, once nothing refers to them.
 */
export const fullTransaction = (
  ruleset: Ruleset,
  stale: ReadonlyMap<IPFamily, { readonly chains: readonly string[]; readonly sets: readonly { name: string; kind: 'set' | 'map' }[] }> = new Map(),
  tx: Transaction = new Transaction(),
): Transaction => {
  for (const fr of ruleset.families) {
    const f = fr.family;
    const flat = flatten(fr);
    tx.add(f, { kind: 'table' });
    tx.flush(f, { kind: 'table' });
    for (const s of flat.sets.values()) tx.add(f, { kind: 'set', set: s });
    for (const c of flat.chains.values()) tx.add(f, { kind: 'chain', chain: c });
    for (const c of flat.chains.values()) for (const r of c.rules) tx.add(f, { kind: 'rule', chain: c.name, rule: r });
    for (const [name, els] of flat.elements) addElements(tx, f, flat.sets.get(name)!, [...els.values()], 'add');
    const gone = stale.get(f);
    if (gone !== undefined) {
      for (const c of gone.chains) if (!flat.chains.has(c)) tx.delete(f, { kind: 'chain', chain: { name: c } });
      for (const s of gone.sets) if (!flat.sets.has(s.name)) tx.delete(f, { kind: 'set', set: { ...s, key: [], flags: [] } });
    }
  }
  return tx;
};

/** Names of the services whose group differs between two rulesets (added, removed or changed). */
export const changedServiceIds = (prev: Ruleset, next: Ruleset): Set<string> => {
  const changed = new Set<string>();
  for (const nf of next.families) {
    const pf = prev.families.find((f) => f.family === nf.family);
    for (const [id, g] of nf.services) {
      const old = pf?.services.get(id);
      if (old === undefined || !sameGroup(old, g, nf.family)) changed.add(id);
    }
    if (pf !== undefined) for (const id of pf.services.keys()) if (!nf.services.has(id)) changed.add(id);
  }
  return changed;
};

const sameGroup = (a: ObjectGroup, b: ObjectGroup, family: IPFamily): boolean => {
  if (a === b) return true;
  if (a.chains.length !== b.chains.length || a.sets.length !== b.sets.length || a.elements.length !== b.elements.length) return false;
  return (
    a.chains.every((c, i) => c.name === b.chains[i]!.name && sameChain(c, b.chains[i]!, family)) &&
    a.sets.every((s, i) => s.name === b.sets[i]!.name && sameSet(s, b.sets[i]!)) &&
    a.elements.every((e, i) => {
      const o = b.elements[i]!;
      return e.set === o.set && renderElementKey(e.element) === renderElementKey(o.element) && sameVerdict(e.element, o.element);
    })
  );
};

/**
 * Incremental sync: only what differs. Order keeps every reference valid at each step: new sets and chains first,
 * then rewritten chains (flush + rules), element deletions before additions, and finally removed chains (flushed,
 * then deleted) and removed sets, when nothing points at them any more.
 */
export const diffTransaction = (prev: Ruleset, next: Ruleset, tx: Transaction = new Transaction()): Transaction => {
  for (const nfr of next.families) {
    const f = nfr.family;
    const pfr = prev.families.find((x) => x.family === f);
    const n = flatten(nfr);
    if (pfr === undefined) {
      fullTransaction({ families: [nfr] }, new Map(), tx);
      continue;
    }
    const p = flatten(pfr);
    const recreatedSets = new Set<string>();
    for (const [name, s] of n.sets) {
      const old = p.sets.get(name);
      if (old === undefined) tx.add(f, { kind: 'set', set: s });
      else if (!sameSet(old, s)) recreatedSets.add(name);
    }
    for (const [name, c] of n.chains) if (!p.chains.has(name)) tx.add(f, { kind: 'chain', chain: c });
    for (const [name, c] of n.chains) {
      const old = p.chains.get(name);
      if (old !== undefined && sameChain(old, c, f)) continue;
      if (old !== undefined) tx.flush(f, { kind: 'chain', chain: c });
      for (const r of c.rules) tx.add(f, { kind: 'rule', chain: name, rule: r });
    }
    for (const [name, els] of n.elements) {
      const set = n.sets.get(name)!;
      const oldEls = p.elements.get(name) ?? new Map<string, Element>();
      if (recreatedSets.has(name)) continue;
      const removed: Element[] = [];
      const added: Element[] = [];
      for (const [k, e] of oldEls) {
        const now = els.get(k);
        if (now === undefined || !sameVerdict(now, e)) removed.push(e);
      }
      for (const [k, e] of els) {
        const before = oldEls.get(k);
        if (before === undefined || !sameVerdict(before, e)) added.push(e);
      }
      addElements(tx, f, set, removed, 'delete');
      addElements(tx, f, set, added, 'add');
    }
    const goneChains = [...p.chains.keys()].filter((c) => !n.chains.has(c));
    for (const c of goneChains) tx.flush(f, { kind: 'chain', chain: { name: c } });
    for (const c of goneChains) tx.delete(f, { kind: 'chain', chain: { name: c } });
    for (const [name, s] of p.sets) if (!n.sets.has(name) || recreatedSets.has(name)) tx.delete(f, { kind: 'set', set: s });
    for (const name of recreatedSets) {
      const s = n.sets.get(name)!;
      tx.add(f, { kind: 'set', set: s });
      addElements(tx, f, s, [...n.elements.get(name)!.values()], 'add');
    }
  }
  return tx;
};
