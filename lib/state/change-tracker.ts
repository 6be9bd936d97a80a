/**
 * Per-object change tracking in the manner of kube-proxy's ServiceChangeTracker: for every object changed since the
 * last checkout we keep `{previous, current}`, where `previous` is the committed value and `current` the latest.
 * When the two are equal again (a no-op update, or a delete of an object that was never committed) the entry is
 * dropped, so nothing is pending and nothing is reported as changed.
 */
import { deepEqual } from './equal.ts';

export interface Change<V> {
  readonly previous: V | undefined;
  readonly current: V | undefined;
}

export class ChangeTracker<V> {
  readonly #committed = new Map<string, V>();
  readonly #pending = new Map<string, Change<V>>();
  readonly #equals: (a: V | undefined, b: V | undefined) => boolean;

  constructor(equals: (a: V | undefined, b: V | undefined) => boolean = deepEqual) {
    this.#equals = equals;
  }

  /** Record the latest converted value of `key` (undefined = gone). Returns whether `key` now has a pending change. */
  update(key: string, current: V | undefined): boolean {
    const previous = this.#pending.has(key) ? this.#pending.get(key)?.previous : this.#committed.get(key);
    if (this.#equals(previous, current)) {
      this.#pending.delete(key);
      return false;
    }
    this.#pending.set(key, { previous, current });
    return true;
  }

  /** The latest value of `key`, pending or committed. */
  latest(key: string): V | undefined {
    const change = this.#pending.get(key);
    return change ? change.current : this.#committed.get(key);
  }

  committed(key: string): V | undefined {
    return this.#committed.get(key);
  }

  hasPending(): boolean {
    return this.#pending.size > 0;
  }

  pendingKeys(): ReadonlySet<string> {
    return new Set(this.#pending.keys());
  }

  /** Fold every pending change into the committed values and return them (keyed like update()). */
  checkout(): ReadonlyMap<string, Change<V>> {
    const changes = new Map(this.#pending);
    this.#pending.clear();
    for (const [key, change] of changes) {
      if (change.current === undefined) this.#committed.delete(key);
      else this.#committed.set(key, change.current);
    }
    return changes;
  }
}
