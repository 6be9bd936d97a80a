/**
 * A persistent map for tables that change a little between syncs (10k services, one of them changed): a new
 * version is derived from an old one without copying it — a shared base plus a small layer of changes — and the old
 * version stays valid and unchanged. The layer is folded into a fresh base once it reaches a fraction of the base, so
 * deriving costs O(changes) amortised and lookups stay two map probes. Iteration order is not insertion order:
 * callers that need an order sort. Pure.
 */

/** Removed in the layer (shadows a base entry). */
const GONE: unique symbol = Symbol('gone');
type Slot<V> = V | typeof GONE;

/** Fold the layer when it holds more entries than base.size / COMPACT_RATIO (and more than a few). */
const COMPACT_RATIO = 8;
const MIN_LAYER = 64;

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #layer: Map<K, Slot<V>>;
  #size: number;

  private constructor(base: ReadonlyMap<K, V>, layer: Map<K, Slot<V>>, size: number) {
    this.#base = base;
    this.#layer = layer;
    this.#size = size;
  }

  /** A map with these entries (the iterable is copied). */
  static of<K, V>(entries: Iterable<readonly [K, V]> = []): LayeredMap<K, V> {
    const base = new Map<K, V>(entries);
    return new LayeredMap(base, new Map(), base.size);
  }

  /** A new version of `from` (a LayeredMap is derived in O(its layer); any other map is copied once). */
  static derive<K, V>(from: ReadonlyMap<K, V> | undefined): LayeredMap<K, V> {
    if (from instanceof LayeredMap) {
      const l = from as LayeredMap<K, V>;
      if (l.#layer.size > MIN_LAYER && l.#layer.size * COMPACT_RATIO > l.#base.size) return LayeredMap.of(l);
      return new LayeredMap(l.#base, new Map(l.#layer), l.#size);
    }
    return LayeredMap.of(from ?? []);
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    const v = this.#layer.get(key);
    if (v === GONE) return undefined;
    return v !== undefined || this.#layer.has(key) ? (v as V) : this.#base.get(key);
  }

  has(key: K): boolean {
    const v = this.#layer.get(key);
    if (v === GONE) return false;
    return v !== undefined || this.#layer.has(key) || this.#base.has(key);
  }

  /** Mutates this version only (versions derived earlier, and `from`, are unaffected). */
  set(key: K, value: V): this {
    if (!this.has(key)) this.#size++;
    this.#layer.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.has(key)) return false;
    this.#size--;
    if (this.#base.has(key)) this.#layer.set(key, GONE);
    else this.#layer.delete(key);
    return true;
  }

  *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.#base) {
      if (!this.#layer.has(k)) yield [k, v];
    }
    for (const [k, v] of this.#layer) {
      if (v !== GONE) yield [k, v];
    }
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }
}
