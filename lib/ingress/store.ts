/**
 * IngressStore keeps the current Ingress, IngressClass and TLS Secret objects from the SourceEvent stream,
 * validated. It answers whether an event changed anything the route table depends on, so the caller rebuilds
 * only when needed. An invalid object is rejected (and any previous valid version dropped: serving a stale
 * version of an object the user has since broken would be surprising) — never a throw.
 */
import type { ResourceKind, SourceEvent } from '../source/types.ts';
import {
  describeIssues,
  ingressClassSchema,
  ingressSchema,
  secretSchema,
  type IngressClassObject,
  type IngressObject,
  type SecretObject,
} from './objects.ts';

export interface StoreRejection {
  readonly kind: 'Ingress' | 'IngressClass' | 'Secret';
  readonly key: string;
  readonly reason: string;
}

export interface StoreResult {
  /** Something the route table reads changed. */
  readonly changed: boolean;
  readonly rejection?: StoreRejection;
}

const UNCHANGED: StoreResult = { changed: false };
const CHANGED: StoreResult = { changed: true };

/** Only the TLS keys of a Secret are kept: other Secrets (tokens, passwords) are none of our business. */
const TLS_KEYS = ['tls.crt', 'tls.key'] as const;

const keepTlsOnly = (secret: SecretObject): SecretObject | undefined => {
  const pick = (m: Record<string, string> | undefined): Record<string, string> | undefined => {
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (const k of TLS_KEYS) if (m[k] !== undefined) out[k] = m[k];
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const data = pick(secret.data);
  const stringData = pick(secret.stringData);
  if (!data && !stringData) return undefined;
  return { metadata: secret.metadata, type: secret.type, data, stringData };
};

/** The kinds this store holds, all of which a route table is built from. */
const STORE_KINDS: readonly ResourceKind[] = ['Ingress', 'IngressClass', 'Secret'];

export class IngressStore {
  /** Kinds not listed yet (their `synced` event not seen): a table built before would be partial. */
  readonly #unlisted: Set<ResourceKind>;
  readonly #ingresses = new Map<string, IngressObject>();
  readonly #classes = new Map<string, IngressClassObject>();
  readonly #secrets = new Map<string, SecretObject>();
  /** JSON of each stored object, to drop no-op updates (relists, status-only changes). */
  readonly #fingerprints = new Map<string, string>();

  /**
   * `withSecrets: false` (no HTTPS listener, so Secrets are not watched): no Secret listing is waited for. Secrets
   * that arrive anyway (a manifests directory holds every kind) are still kept.
   */
  constructor(options: { readonly withSecrets?: boolean } = {}) {
    this.#unlisted = new Set(options.withSecrets === false ? STORE_KINDS.filter((k) => k !== 'Secret') : STORE_KINDS);
  }

  /** Every kind held here has been listed once. */
  get synced(): boolean {
    return this.#unlisted.size === 0;
  }

  /** A `synced` event is a change when it is the last kind to be listed: a first table can be built now. */
  apply(event: SourceEvent): StoreResult {
    if (event.type === 'synced') return this.#unlisted.delete(event.kind) && this.#unlisted.size === 0 ? CHANGED : UNCHANGED;
    switch (event.kind) {
      case 'Ingress':
        return this.#apply(event, this.#ingresses, (o) => {
          const r = ingressSchema.safeParse(o);
          return r.success ? { value: r.data } : { reason: describeIssues(r.error) };
        });
      case 'IngressClass':
        return this.#apply(event, this.#classes, (o) => {
          const r = ingressClassSchema.safeParse(o);
          return r.success ? { value: r.data } : { reason: describeIssues(r.error) };
        });
      case 'Secret':
        return this.#apply(event, this.#secrets, (o) => {
          const r = secretSchema.safeParse(o);
          if (!r.success) return { reason: describeIssues(r.error) };
          // A Secret without TLS keys is valid but irrelevant: store nothing (and forget an older TLS version).
          return { value: keepTlsOnly(r.data) };
        });
      default:
        return UNCHANGED;
    }
  }

  ingresses(): readonly IngressObject[] {
    return [...this.#ingresses.values()];
  }

  ingressClasses(): readonly IngressClassObject[] {
    return [...this.#classes.values()];
  }

  /** TLS Secrets by `namespace/name`. */
  secrets(): ReadonlyMap<string, SecretObject> {
    return new Map(this.#secrets);
  }

  #apply<T>(
    event: Exclude<SourceEvent, { type: 'synced' }>,
    map: Map<string, T>,
    parse: (object: unknown) => { value: T | undefined } | { reason: string },
  ): StoreResult {
    const fingerprintKey = `${event.kind}\u0000${event.key}`;
    const forget = (): boolean => {
      this.#fingerprints.delete(fingerprintKey);
      return map.delete(event.key);
    };
    if (event.type === 'delete') return forget() ? CHANGED : UNCHANGED;
    const parsed = parse(event.object);
    if ('reason' in parsed) {
      const changed = forget();
      return {
        changed,
        rejection: { kind: event.kind as StoreRejection['kind'], key: event.key, reason: parsed.reason },
      };
    }
    if (parsed.value === undefined) return forget() ? CHANGED : UNCHANGED;
    const fingerprint = JSON.stringify(parsed.value);
    if (this.#fingerprints.get(fingerprintKey) === fingerprint) return UNCHANGED;
    this.#fingerprints.set(fingerprintKey, fingerprint);
    map.set(event.key, parsed.value);
    return CHANGED;
  }
}
