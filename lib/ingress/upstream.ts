/**
 * Upstream side of the proxy: endpoint choice (round-robin over ready endpoints, terminating-but-serving ones
 * only when none is ready) and one keep-alive undici Pool per endpoint address.
 */
import { Pool } from 'undici';
import type { Endpoint } from '../model/types.ts';
import type { Backend, RouteTable } from './types.ts';

export const endpointOrigin = (ep: Pick<Endpoint, 'ip' | 'port' | 'family'>): string =>
  `http://${ep.family === 6 ? `[${ep.ip}]` : ep.ip}:${ep.port}`;

/** Endpoints to try for one request, in order: the round-robin pick first, then the others after it. */
export class Balancer {
  readonly #next = new Map<string, number>();
  /** Eligible endpoints per Backend: tables are immutable, so this is computed once per backend and table. */
  #eligible = new WeakMap<Backend, readonly Endpoint[]>();

  candidates(backend: Backend): readonly Endpoint[] {
    let pool = this.#eligible.get(backend);
    if (!pool) {
      pool = backend.endpoints.filter((e) => e.ready);
      if (pool.length === 0) pool = backend.endpoints.filter((e) => e.serving && e.terminating);
      this.#eligible.set(backend, pool);
    }
    if (pool.length === 0) return pool;
    const key = backend.servicePortKey ?? backend.service;
    const start = (this.#next.get(key) ?? 0) % pool.length;
    this.#next.set(key, start + 1);
    return start === 0 ? pool : [...pool.slice(start), ...pool.slice(0, start)];
  }

  /** Forget counters of backends gone from the table. */
  retain(table: RouteTable): void {
    const live = new Set<string>();
    for (const b of backendsOf(table)) live.add(b.servicePortKey ?? b.service);
    for (const k of this.#next.keys()) if (!live.has(k)) this.#next.delete(k);
  }
}

export function* backendsOf(table: RouteTable): Generator<Backend> {
  if (table.defaultBackend) yield table.defaultBackend;
  const hosts = [...table.exactHosts.values(), ...table.wildcardHosts.values()];
  if (table.anyHost) hosts.push(table.anyHost);
  for (const h of hosts) {
    for (const r of h.exact.values()) yield r.backend;
    for (const r of h.prefixes) yield r.backend;
  }
}

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Connections per endpoint. */
  readonly connections?: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #origins = new WeakMap<Endpoint, string>();
  readonly #options: PoolOptions;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** The pool for an endpoint of the current table (its origin string is built once per endpoint object). */
  forEndpoint(ep: Endpoint): Pool {
    let origin = this.#origins.get(ep);
    if (origin === undefined) {
      origin = endpointOrigin(ep);
      this.#origins.set(ep, origin);
    }
    return this.get(origin);
  }

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#options.connections ?? 64,
        connectTimeout: this.#options.connectTimeoutMs,
        headersTimeout: this.#options.responseTimeoutMs,
        bodyTimeout: this.#options.responseTimeoutMs,
        keepAliveTimeout: 4_000,
        pipelining: 1,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Close pools of endpoints no longer in the table; requests already running on them finish first. */
  retain(table: RouteTable): void {
    const live = new Set<string>();
    for (const b of backendsOf(table)) for (const e of b.endpoints) live.add(endpointOrigin(e));
    for (const [origin, pool] of this.#pools) {
      if (live.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
