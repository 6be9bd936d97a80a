/**
 * Endpoint-slot allocation: every multi-endpoint selection (a service's cluster or local endpoints) gets an aligned,
 * power-of-two range of slots in one of the shared endpoint maps `endpoints-<group>`. nft 1.0.6 spends ≈2 ms per
 * anonymous map and the kernel's cost grows with (elements × rules bound to a map), so services share maps in small
 * groups (see README "Scale"). Ranges are kept across syncs (a change rewrites only that selection's elements, plus
 * its rule when the count or range moves), reallocated when outgrown or far too large, and freed ranges are reused.
 * Pure: a new table is derived from the previous one.
 */
import { LayeredMap } from './layered-map.ts';
import type { MapUsage, SlotRange, SlotTable } from './model.ts';

/** Slots per endpoint map. A selection needing more gets a map of its own. */
export const GROUP_SLOTS = 512;
/** Selections (rules bound to one map) per endpoint map. */
export const GROUP_SELECTIONS = 32;
export const MIN_CAPACITY = 2;

/**
 * Endpoint maps are per protocol as well: nft 1.0.6 rebuilds a map's `typeof … tcp dport` from the kernel and then
 * refuses rules of another protocol (and `th dport` conflicts with every `meta l4proto` match) in later
 * transactions.
 */
export const endpointMapName = (pool: string, group: number): string => `endpoints-${pool}-${group}`;
/**
 * Whether `set` is an endpoint map. Its slots are exclusive (a range belongs to one selection), so its elements need
 * no claims: the TableIndex leaves them out and the diff takes them from the changed groups (see diff.ts).
 */
export const isEndpointMap = (set: string): boolean => set.startsWith('endpoints-');
const poolOf = (map: string): string => map.slice('endpoints-'.length, map.lastIndexOf('-'));

export const capacityFor = (n: number): number => {
  let c = MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
};

/** A kept range may be reused while it fits and is not more than 4× what the selection needs. */
const fits = (r: SlotRange, n: number): boolean => n <= r.capacity && capacityFor(n) * 4 > r.capacity;


/**
 * Endpoints in slot order: those already in a slot below `n` stay where they are; the others fill the holes in the
 * order given.
 */
export const placeEndpoints = (previous: readonly string[], wanted: readonly string[]): string[] => {
  const n = wanted.length;
  const want = new Set(wanted);
  const slots: (string | undefined)[] = new Array<string | undefined>(n).fill(undefined);
  const placed = new Set<string>();
  for (let i = 0; i < Math.min(previous.length, n); i++) {
    const k = previous[i]!;
    if (want.has(k)) {
      slots[i] = k;
      placed.add(k);
    }
  }
  let next = 0;
  for (const k of wanted) {
    if (placed.has(k)) continue;
    while (slots[next] !== undefined) next++;
    slots[next] = k;
  }
  return slots as string[];
};

export class SlotAllocator {
  /** Derived from the previous table without copying it (see layered-map.ts). */
  private readonly table: LayeredMap<string, SlotRange>;
  /** By map name. Entries not in `owned` still belong to the previous table and are copied before a change. */
  private readonly groups: Map<string, MapUsage>;
  private readonly owned = new Set<string>();
  /** Maps that may still have room. */
  private readonly open = new Set<string>();

  constructor(previous: SlotTable | undefined) {
    this.table = LayeredMap.derive(previous?.ranges);
    this.groups = new Map(previous?.usage);
    for (const [name, g] of this.groups) if (hasRoom(g)) this.open.add(name);
  }

  /** The allocation so far. */
  get result(): SlotTable {
    return { ranges: this.table, usage: this.groups };
  }

  /** Maps holding at least one range, by pool (protocol) then number. */
  mapsInUse(): { readonly name: string; readonly pool: string }[] {
    const num = (n: string): number => Number(n.slice(n.lastIndexOf('-') + 1));
    return [...this.groups.keys()]
      .sort((a, b) => (poolOf(a) < poolOf(b) ? -1 : poolOf(a) > poolOf(b) ? 1 : num(a) - num(b)))
      .map((name) => ({ name, pool: poolOf(name) }));
  }

  get(key: string): SlotRange | undefined {
    return this.table.get(key);
  }


  free(key: string): void {
    const r = this.table.get(key);
    if (r === undefined) return;
    this.table.delete(key);
    this.mark(r, 0);
    const g = this.groups.get(r.map)!;
    if (g.selections === 0) {
      this.groups.delete(r.map);
      this.open.delete(r.map);
    } else this.open.add(r.map);
  }

  /** Whether `key`'s current range can keep serving `n` endpoints. */
  keeps(key: string, n: number): boolean {
    const r = this.table.get(key);
    return r !== undefined && fits(r, n);
  }

  /**
   * The range for `key` holding `endpoints` (keys `address . port`, distinct): the current one when it fits (endpoints kept
   * in their slots), else a new one — call after freeing everything that is gone, so freed room is reused.
   */
  assign(key: string, endpoints: readonly string[], pool: string): SlotRange {
    const old = this.table.get(key);
    if (old !== undefined && poolOf(old.map) === pool && fits(old, endpoints.length)) {
      const placed = placeEndpoints(old.endpoints, endpoints);
      const same = placed.length === old.endpoints.length && placed.every((k, i) => k === old.endpoints[i]);
      if (same) return old;
      const r: SlotRange = { ...old, endpoints: placed };
      this.table.set(key, r);
      return r;
    }
    if (old !== undefined) this.free(key);
    const capacity = capacityFor(endpoints.length);
    const r: SlotRange = { ...this.place(capacity, pool), capacity, endpoints: [...endpoints] };
    this.table.set(key, r);
    this.mark(r, 1);
    return r;
  }

  private place(capacity: number, pool: string): { map: string; offset: number } {
    let best: { map: string; offset: number; n: number } | undefined;
    for (const map of this.open) {
      if (poolOf(map) !== pool) continue;
      const g = this.groups.get(map)!;
      const offset = freeAligned(g.used, capacity);
      const n = Number(map.slice(map.lastIndexOf('-') + 1));
      // The lowest-numbered map with room, so the choice does not depend on history.
      if (offset !== undefined && (best === undefined || n < best.n)) best = { map, offset, n };
    }
    if (best !== undefined) return { map: best.map, offset: best.offset };
    let n = 0;
    while (this.groups.has(endpointMapName(pool, n))) n++;
    return { map: endpointMapName(pool, n), offset: 0 };
  }

  private mark(r: SlotRange, value: 0 | 1): void {
    const old = this.groups.get(r.map);
    const used = old === undefined ? new Uint8Array(Math.max(GROUP_SLOTS, r.offset + r.capacity)) : this.owned.has(r.map) ? old.used : old.used.slice();
    used.fill(value, r.offset, r.offset + r.capacity);
    const g: MapUsage = { used, selections: (old?.selections ?? 0) + (value === 1 ? 1 : -1) };
    this.groups.set(r.map, g);
    this.owned.add(r.map);
    if (hasRoom(g)) this.open.add(r.map);
    else this.open.delete(r.map);
  }
}

const hasRoom = (g: MapUsage): boolean => g.selections < GROUP_SELECTIONS && g.used.indexOf(0) !== -1;

const freeAligned = (used: Uint8Array, capacity: number): number | undefined => {
  for (let o = 0; o + capacity <= used.length; o += capacity) {
    let free = true;
    for (let i = o; i < o + capacity; i++) {
      if (used[i] !== 0) {
        free = false;
        break;
      }
    }
    if (free) return o;
  }
  return undefined;
};
