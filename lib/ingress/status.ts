/**
 * Ingress status publishing: `status.loadBalancer.ingress` of every Ingress we serve says where it is reachable.
 *
 * Policy (see README.md "Status"): we publish one configured address (--ingress-status-address, an IP or DNS name
 * that operators point at every node, e.g. a VIP or a round-robin name). Every node computes the same value, so
 * a DaemonSet of switchyards agrees instead of flapping between node addresses. Without that flag nothing is
 * written at all.
 *
 * Rules that keep us from fighting anybody:
 * - We write only Ingresses we serve, and Ingresses we served earlier in this process's life (class changed,
 *   IngressClass deleted); for the latter we only remove our own entry and keep whatever another controller wrote.
 * - We write only when the observed status differs from what we want. Observed = the latest Ingress event from the
 *   source (an event older than our own write is ignored when resourceVersions compare as integers).
 * - A key rewritten too often (someone keeps changing it back) is left alone, with one warning, until the window
 *   passes.
 * Writes run one at a time off the event path; a failed write is retried after a delay.
 */
import { describeError } from '../errors.ts';
import { parseIP } from '../model/ip.ts';
import type { KubeObject, SourceEvent } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
  readonly ports?: readonly unknown[];
}

/** Sets `status.loadBalancer.ingress` of one Ingress. The real one patches the API server; a fake records. */
export interface IngressStatusWriter {
  /** Resolves to the new resourceVersion (when known). Rejects with `statusCode` 404 when the Ingress is gone. */
  write(namespace: string, name: string, entries: readonly LoadBalancerIngress[]): Promise<string | undefined>;
}

export interface Timers {
  readonly now: () => number;
  readonly setTimeout: (fn: () => void, ms: number) => { cancel(): void };
}

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

export interface IngressStatusPublisherOptions {
  /** IP or DNS name to publish. */
  readonly address: string;
  readonly writer: IngressStatusWriter;
  readonly logger: Logger;
  /** Delay before retrying a failed write. Default 5 s. */
  readonly retryMs?: number;
  /** At most this many writes per Ingress per window before backing off. Default 5 per 60 s. */
  readonly maxWritesPerWindow?: number;
  readonly windowMs?: number;
  readonly timers?: Timers;
}

/** `{ip}` for an IP literal, `{hostname}` otherwise. */
export const statusEntryFor = (address: string): LoadBalancerIngress =>
  parseIP(address) ? { ip: address } : { hostname: address.toLowerCase() };

const sameEntry = (a: LoadBalancerIngress, b: LoadBalancerIngress): boolean =>
  (a.ip ?? '') === (b.ip ?? '') && (a.hostname ?? '') === (b.hostname ?? '');

const entriesJson = (entries: readonly LoadBalancerIngress[]): string =>
  JSON.stringify(entries.map((e) => [e.ip ?? '', e.hostname ?? '', e.ports ?? []]));

/** `status.loadBalancer.ingress` of a raw Ingress, keeping only well-formed entries. */
export const observedEntries = (object: KubeObject | undefined): LoadBalancerIngress[] => {
  const status = object?.['status'] as { loadBalancer?: { ingress?: unknown } } | undefined;
  const list = status?.loadBalancer?.ingress;
  if (!Array.isArray(list)) return [];
  const out: LoadBalancerIngress[] = [];
  for (const item of list as unknown[]) {
    if (item === null || typeof item !== 'object') continue;
    const { ip, hostname, ports } = item as Record<string, unknown>;
    out.push({
      ...(typeof ip === 'string' && ip !== '' ? { ip } : {}),
      ...(typeof hostname === 'string' && hostname !== '' ? { hostname } : {}),
      ...(Array.isArray(ports) && ports.length > 0 ? { ports } : {}),
    });
  }
  return out;
};

/**
 * What status an Ingress should have, or undefined to leave it alone. `served`: we serve it now; otherwise we
 * served it before and only take our own entry out.
 */
export const desiredEntries = (
  served: boolean,
  observed: readonly LoadBalancerIngress[],
  ours: LoadBalancerIngress,
): readonly LoadBalancerIngress[] | undefined => {
  if (served) return observed.length === 1 && entriesJson(observed) === entriesJson([ours]) ? undefined : [ours];
  const rest = observed.filter((e) => !sameEntry(e, ours));
  return rest.length === observed.length ? undefined : rest;
};

const olderThan = (rv: string | undefined, than: string | undefined): boolean => {
  if (rv === undefined || than === undefined || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return BigInt(rv) < BigInt(than);
};

interface Observed {
  entries: readonly LoadBalancerIngress[];
  resourceVersion: string | undefined;
}

const splitKey = (key: string): [string, string] => {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
};

export class IngressStatusPublisher {
  readonly #options: IngressStatusPublisherOptions;
  readonly #ours: LoadBalancerIngress;
  readonly #timers: Timers;
  readonly #observed = new Map<string, Observed>();
  /** Served in the latest route table. */
  #served = new Set<string>();
  /** Served before, not now, and our entry may still be on it. */
  readonly #formerly = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #writeTimes = new Map<string, number[]>();
  readonly #backedOff = new Set<string>();
  readonly #retries = new Map<string, { cancel(): void }>();
  #draining: Promise<void> | undefined;
  #stopped = false;

  constructor(options: IngressStatusPublisherOptions) {
    this.#options = options;
    this.#ours = statusEntryFor(options.address);
    this.#timers = options.timers ?? realTimers;
  }

  /** Feed every source event (only Ingress events matter). */
  observe(event: SourceEvent): void {
    if (event.type === 'synced' || event.kind !== 'Ingress') return;
    const key = event.key;
    if (event.type === 'delete') {
      this.#observed.delete(key);
      this.#formerly.delete(key);
      this.#dirty.delete(key);
      this.#writeTimes.delete(key);
      this.#backedOff.delete(key);
      this.#retries.get(key)?.cancel();
      this.#retries.delete(key);
      return;
    }
    const resourceVersion = event.object.metadata.resourceVersion;
    const previous = this.#observed.get(key);
    if (previous && olderThan(resourceVersion, previous.resourceVersion)) return; // from before our own write
    this.#observed.set(key, { entries: observedEntries(event.object), resourceVersion });
    if (this.#served.has(key) || this.#formerly.has(key)) this.#mark(key);
  }

  /** The Ingress keys of the latest route table. */
  served(keys: readonly string[]): void {
    const next = new Set(keys);
    for (const key of this.#served) if (!next.has(key)) this.#formerly.add(key);
    for (const key of next) this.#formerly.delete(key);
    this.#served = next;
    for (const key of next) this.#mark(key);
    for (const key of this.#formerly) this.#mark(key);
  }

  /** Resolves once nothing is waiting to be written (tests). */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const r of this.#retries.values()) r.cancel();
    this.#retries.clear();
    this.#dirty.clear();
    await this.#draining;
  }

  #mark(key: string): void {
    if (this.#stopped) return;
    this.#dirty.add(key);
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // let the caller's burst of marks land first
    while (this.#dirty.size > 0 && !this.#stopped) {
      const key = this.#dirty.values().next().value as string;
      this.#dirty.delete(key);
      await this.#reconcile(key);
    }
  }

  async #reconcile(key: string): Promise<void> {
    const served = this.#served.has(key);
    if (!served && !this.#formerly.has(key)) return;
    const observed = this.#observed.get(key) ?? { entries: [], resourceVersion: undefined };
    const desired = desiredEntries(served, observed.entries, this.#ours);
    if (desired === undefined) {
      if (!served) this.#formerly.delete(key);
      return;
    }
    if (!this.#allowWrite(key)) return;
    const [namespace, name] = splitKey(key);
    try {
      const resourceVersion = await this.#options.writer.write(namespace, name, desired);
      // Until the watch echoes our write, what we wrote is the best knowledge of what is there.
      if (this.#observed.has(key)) this.#observed.set(key, { entries: desired, resourceVersion });
      if (!served) this.#formerly.delete(key);
      this.#options.logger.info(
        { ingress: key, loadBalancer: desired },
        served ? `ingress: published status of ${key}` : `ingress: removed our status entry from ${key}`,
      );
    } catch (e) {
      if ((e as { statusCode?: unknown }).statusCode === 404) return; // deleted meanwhile; its delete event follows
      this.#options.logger.warn({ ingress: key, err: describeError(e) }, `ingress: cannot write status of ${key}: ${describeError(e)}`);
      this.#retryLater(key);
    }
  }

  #allowWrite(key: string): boolean {
    const { maxWritesPerWindow = 5, windowMs = 60_000 } = this.#options;
    const now = this.#timers.now();
    const recent = (this.#writeTimes.get(key) ?? []).filter((t) => now - t < windowMs);
    if (recent.length >= maxWritesPerWindow) {
      this.#writeTimes.set(key, recent);
      if (!this.#backedOff.has(key)) {
        this.#backedOff.add(key);
        this.#options.logger.warn(
          { ingress: key, writes: recent.length, windowMs },
          `ingress: status of ${key} keeps changing back (another controller?); not writing it for now`,
        );
      }
      this.#retryLater(key, windowMs - (now - recent[0]!));
      return false;
    }
    this.#backedOff.delete(key);
    recent.push(now);
    this.#writeTimes.set(key, recent);
    return true;
  }

  #retryLater(key: string, ms = this.#options.retryMs ?? 5_000): void {
    if (this.#stopped || this.#retries.has(key)) return;
    this.#retries.set(
      key,
      this.#timers.setTimeout(() => {
        this.#retries.delete(key);
        this.#mark(key);
      }, ms),
    );
  }
}
