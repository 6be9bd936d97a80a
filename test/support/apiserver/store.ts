/**
 * The test API server's state: objects by kind, one global resourceVersion bumped per write, and the event history
 * watches replay from. Pure in-memory; the HTTP layer lives in server.ts.
 */
import { randomUUID } from 'node:crypto';
import { apiVersionOf, resourceByKind, type ResourceType } from './resources.ts';

export type JsonObject = Record<string, unknown> & { metadata: Meta; kind: string; apiVersion: string };
export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoredEvent {
  readonly rv: number;
  readonly type: WatchEventType;
  readonly kind: string;
  readonly object: JsonObject;
  /** The object before a MODIFIED, so selector watches can turn it into ADDED/DELETED as the API server does. */
  readonly previous?: JsonObject;
}

export class StoreError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

const keyOf = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);
const clone = <T>(o: T): T => structuredClone(o);

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  private history: StoredEvent[] = [];
  /** Watches from a resourceVersion below this get 410 Expired. */
  private compactedBelow = 0;
  private readonly maxHistory: number;
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  constructor(maxHistory = 10_000) {
    this.maxHistory = maxHistory;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get compactedRevision(): number {
    return this.compactedBelow;
  }

  subscribe(listener: (e: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forget all history up to now: a watch from any older resourceVersion now gets 410 Expired. */
  compact(): void {
    this.history = [];
    this.compactedBelow = this.rv;
  }

  list(kind: string, namespace?: string): JsonObject[] {
    const all = [...(this.objects.get(kind)?.values() ?? [])];
    return (namespace ? all.filter((o) => o.metadata.namespace === namespace) : all).map(clone);
  }

  get(kind: string, namespace: string | undefined, name: string): JsonObject | undefined {
    const o = this.objects.get(kind)?.get(keyOf(namespace, name));
    return o && clone(o);
  }

  /** Events after `since` (exclusive), or undefined when that point has been compacted away. */
  eventsSince(since: number): StoredEvent[] | undefined {
    if (since < this.compactedBelow) return undefined;
    return this.history.filter((e) => e.rv > since);
  }

  create(input: Record<string, unknown>): JsonObject {
    const { type, obj } = this.normalize(input);
    const byKey = this.kindMap(type.kind);
    const key = keyOf(obj.metadata.namespace, obj.metadata.name);
    if (byKey.has(key)) {
      throw new StoreError(409, 'AlreadyExists', `${type.plural} "${obj.metadata.name}" already exists`);
    }
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.write(type, key, 'ADDED', obj, undefined);
  }

  update(input: Record<string, unknown>): JsonObject {
    const { type, obj } = this.normalize(input);
    const byKey = this.kindMap(type.kind);
    const key = keyOf(obj.metadata.namespace, obj.metadata.name);
    const previous = byKey.get(key);
    if (!previous) throw new StoreError(404, 'NotFound', `${type.plural} "${obj.metadata.name}" not found`);
    const given = obj.metadata.resourceVersion;
    if (given && given !== previous.metadata.resourceVersion) {
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${obj.metadata.name}": the object has been modified`,
      );
    }
    obj.metadata.uid = previous.metadata.uid;
    obj.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    return this.write(type, key, 'MODIFIED', obj, previous);
  }

  /** Create when absent, replace when present (ignoring any stale resourceVersion in the input). */
  apply(input: Record<string, unknown>): JsonObject {
    const { type, obj } = this.normalize(input);
    const exists = this.kindMap(type.kind).has(keyOf(obj.metadata.namespace, obj.metadata.name));
    if (!exists) return this.create(obj);
    delete obj.metadata.resourceVersion;
    return this.update(obj);
  }

  delete(kind: string, namespace: string | undefined, name: string): JsonObject {
    const type = resourceByKind(kind);
    if (!type) throw new StoreError(404, 'NotFound', `unknown kind ${kind}`);
    const byKey = this.kindMap(kind);
    const key = keyOf(type.namespaced ? namespace : undefined, name);
    const previous = byKey.get(key);
    if (!previous) throw new StoreError(404, 'NotFound', `${type.plural} "${name}" not found`);
    byKey.delete(key);
    this.rv++;
    const gone = clone(previous);
    gone.metadata.resourceVersion = String(this.rv);
    this.record({ rv: this.rv, type: 'DELETED', kind, object: gone });
    return clone(gone);
  }

  private write(type: ResourceType, key: string, event: WatchEventType, obj: JsonObject, previous?: JsonObject): JsonObject {
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    this.kindMap(type.kind).set(key, obj);
    this.record({ rv: this.rv, type: event, kind: type.kind, object: clone(obj), ...(previous ? { previous } : {}) });
    return clone(obj);
  }

  private record(e: StoredEvent): void {
    this.history.push(e);
    if (this.history.length > this.maxHistory) {
      const dropped = this.history.splice(0, this.history.length - this.maxHistory);
      this.compactedBelow = dropped[dropped.length - 1]!.rv;
    }
    for (const l of this.listeners) l(e);
  }

  private kindMap(kind: string): Map<string, JsonObject> {
    let m = this.objects.get(kind);
    if (!m) this.objects.set(kind, (m = new Map()));
    return m;
  }

  private normalize(input: Record<string, unknown>): { type: ResourceType; obj: JsonObject } {
    const kind = typeof input.kind === 'string' ? input.kind : '';
    const type = resourceByKind(kind);
    if (!type) throw new StoreError(400, 'BadRequest', `unsupported kind "${kind}"`);
    const obj = clone(input) as JsonObject;
    obj.apiVersion = apiVersionOf(type);
    const meta = obj.metadata;
    if (!meta || typeof meta.name !== 'string' || meta.name === '') {
      throw new StoreError(422, 'Invalid', `${type.kind}: metadata.name: Required value`);
    }
    if (type.namespaced) meta.namespace ||= 'default';
    else delete meta.namespace;
    return { type, obj };
  }
}
