/**
 * TableIndex: every object of one family's table with its owner (the fixed part, or one service port), so a sync
 * can diff only the owners that changed. Several owners may claim the same set element (two ports of a service share
 * their ClusterIP and endpoint IPs; two services may claim one external IP:port): the set holds it once, with the
 * value of the first claimant by id ('' = the fixed part, first) — and keeps it until the last claimant lets go.
 */
import type { IPFamily } from '../../model/types.ts';
import type { Chain, Element, FamilyRuleset, ObjectGroup, SetDef } from './model.ts';

export const BASE_OWNER = '';

interface Claim {
  readonly owner: string;
  readonly element: Element;
}

export class TableIndex {
  readonly family: IPFamily;
  readonly chains = new Map<string, Chain>();
  readonly sets = new Map<string, SetDef>();
  /** Set name → element key text → claims sorted by owner (a lone claim, the usual case, is kept unwrapped). */
  private readonly claims = new Map<string, Map<string, Claim | Claim[]>>();

  constructor(family: IPFamily) {
    this.family = family;
  }

  static of(fr: FamilyRuleset): TableIndex {
    const ix = new TableIndex(fr.family);
    ix.addGroup(BASE_OWNER, fr.base);
    for (const [id, g] of fr.services) ix.addGroup(id, g);
    return ix;
  }

  /** The element a set holds for `key`, if any. */
  effective(set: string, key: string): Element | undefined {
    return first(this.claims.get(set)?.get(key))?.element;
  }

  /** Every element a set holds (first claimant's value). */
  *elements(set: string): IterableIterator<[string, Element]> {
    for (const [k, cs] of this.claims.get(set) ?? []) yield [k, first(cs)!.element];
  }

  /** Adds an owner's chains, sets and element claims (chains and sets: first definition wins). */
  addGroup(owner: string, g: ObjectGroup): void {
    for (const c of g.chains) if (!this.chains.has(c.name)) this.chains.set(c.name, c);
    for (const s of g.sets) if (!this.sets.has(s.name)) this.sets.set(s.name, s);
    for (const e of g.elements) this.claim(owner, e.set, e.key, e);
  }

  claim(owner: string, set: string, key: string, element: Element): void {
    let bySet = this.claims.get(set);
    if (bySet === undefined) {
      bySet = new Map();
      this.claims.set(set, bySet);
    }
    const found = bySet.get(key);
    if (found === undefined) {
      bySet.set(key, { owner, element });
      return;
    }
    const cs = Array.isArray(found) ? found : [found];
    bySet.set(key, cs);
    // One claim per owner and key: an owner listing a key twice keeps its first.
    if (cs.some((c) => c.owner === owner)) return;
    let i = cs.length;
    while (i > 0 && cs[i - 1]!.owner > owner) i--;
    cs.splice(i, 0, { owner, element });
  }

  release(owner: string, set: string, key: string): void {
    const bySet = this.claims.get(set);
    const found = bySet?.get(key);
    if (bySet === undefined || found === undefined) return;
    if (!Array.isArray(found)) {
      if (found.owner === owner) bySet.delete(key);
      return;
    }
    const i = found.findIndex((c) => c.owner === owner);
    if (i < 0) return;
    found.splice(i, 1);
    if (found.length === 0) bySet.delete(key);
    else if (found.length === 1) bySet.set(key, found[0]!);
  }
}

const first = (c: Claim | Claim[] | undefined): Claim | undefined => (Array.isArray(c) ? c[0] : c);
