/**
 * What one kind has emitted so far (key -> resourceVersion). Every upsert, delete and relist goes through here, so
 * restarts, replays and relists never emit the same version twice, and a relist turns into exactly the upserts and
 * deletes that bring downstream in line with the server.
 */
import { objectKey, type KubeObject, type ResourceKind, type SourceEvent } from '../types.ts';

export class EmittedState {
  private readonly versions = new Map<string, KubeObject>();
  private readonly kind: ResourceKind;

  constructor(kind: ResourceKind) {
    this.kind = kind;
  }

  get size(): number {
    return this.versions.size;
  }

  upsert(object: KubeObject): SourceEvent | undefined {
    const key = objectKey(object.metadata);
    const rv = object.metadata.resourceVersion;
    const previous = this.versions.get(key);
    // Without a resourceVersion nothing proves it is the same version, so it is emitted.
    if (previous && rv !== undefined && previous.metadata.resourceVersion === rv) return undefined;
    this.versions.set(key, object);
    return { type: 'upsert', kind: this.kind, key, object };
  }

  delete(object: KubeObject): SourceEvent | undefined {
    const key = objectKey(object.metadata);
    if (!this.versions.delete(key)) return undefined;
    return { type: 'delete', kind: this.kind, key, object };
  }

  /** A full list from the server: upserts for new/changed objects, deletes for those that vanished. */
  reconcile(items: readonly KubeObject[]): SourceEvent[] {
    const listed = new Set(items.map((o) => objectKey(o.metadata)));
    const events: SourceEvent[] = [];
    for (const [key, last] of [...this.versions]) {
      if (!listed.has(key)) {
        this.versions.delete(key);
        events.push({ type: 'delete', kind: this.kind, key, object: last });
      }
    }
    for (const item of items) {
      const e = this.upsert(item);
      if (e) events.push(e);
    }
    return events;
  }
}
