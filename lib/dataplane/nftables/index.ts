/**
 * TableIndex: every object of one family's table with its owner (the fixed part, or one service port), so a sync
 * can diff only the owners that changed. Several owners may claim the same set element (two ports of a service share
 * their ClusterIP and endpoint IPs; two services may claim one external IP:port): the set holds it once, with the
 * value of the first claimant by id ('' = the fixed part, first) — and keeps it until the last claimant lets go.
 * Endpoint-map elements are not indexed: their slots are exclusive, and at 10k services they are 100k entries
 * (see diff.ts for how they are diffed).
 */
import type { IPFamily } from '../../model/types.ts';
import type { Chain, Element, ElementRef, FamilyRuleset, ObjectGroup, SetDef } from './model.ts';
import { isEndpointMap } from './slots.ts';

export const BASE_OWNER = '';

/** The claims on one key: one element (the usual case, no wrapper), or several sorted by owner. */
type Claims = ElementRef | ElementRef[];

export class TableIndex {
  readonly family: IPFamily;
  readonly chains = new Map<string, Chain>();
  readonly sets = new Map<string, SetDef>();
  /** Set name → element key text → claims (each element carries its owner). */
  private readonly claims = new Map<string, Map<string, Claims>>();

  constructor(family: IPFamily) {
    this.family = family;
  }

  static of(fr: FamilyRuleset): TableIndex {
    const ix = new TableIndex(fr.family);
    ix.addGroup(fr.base);
    for (const g of fr.services.values()) ix.addGroup(g);
    return ix;
  }

  /** The element a set holds for `key`, if any. */
  effective(set: string, key: string): Element | undefined {
    return first(this.claims.get(set)?.get(key));
  }

  /** Every element a set holds (first claimant's value). */
  *elements(set: string): IterableIterator<[string, Element]> {
    for (const [k, cs] of this.claims.get(set) ?? []) yield [k, first(cs)!];
  }

  /** Adds a group's chains, sets and element claims (chains and sets: first definition wins). */
  addGroup(g: ObjectGroup): void {
    for (const c of g.chains) if (!this.chains.has(c.name)) this.chains.set(c.name, c);
    for (const s of g.sets) if (!this.sets.has(s.name)) this.sets.set(s.name, s);
    for (const e of g.elements) if (!isEndpointMap(e.set)) this.claim(e);
  }

  claim(e: ElementRef): void {
    let bySet = this.claims.get(e.set);
    if (bySet === undefined) {
      bySet = new Map();
      this.claims.set(e.set, bySet);
    }
    const found = bySet.get(e.key);
    if (found === undefined) {
      bySet.set(e.key, e);
      return;
    }
    const cs = Array.isArray(found) ? found : [found];
    // One claim per owner and key: an owner listing a key twice keeps its first.
    if (cs.some((c) => c.owner === e.owner)) return;
    bySet.set(e.key, cs);
    let i = cs.length;
    while (i > 0 && cs[i - 1]!.owner > e.owner) i--;
    cs.splice(i, 0, e);
  }

  /** Drops `e.owner`'s claim on `e.key` in `e.set`. */
  release(e: ElementRef): void {
    const bySet = this.claims.get(e.set);
    const found = bySet?.get(e.key);
    if (bySet === undefined || found === undefined) return;
    if (!Array.isArray(found)) {
      if (found.owner === e.owner) bySet.delete(e.key);
      return;
    }
    const i = found.findIndex((c) => c.owner === e.owner);
    if (i < 0) return;
    found.splice(i, 1);
    if (found.length === 0) bySet.delete(e.key);
    else if (found.length === 1) bySet.set(e.key, found[0]!);
  }
}

const first = (c: Claims | undefined): ElementRef | undefined => (Array.isArray(c) ? c[0] : c);
