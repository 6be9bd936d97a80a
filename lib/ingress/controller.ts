/**
 * IngressController glues the pieces for the daemon: SourceEvents → IngressStore; store + latest service view →
 * buildRouteTable → a sink (IngressServer.setRouteTable). Events only mark the table stale: the caller rebuilds
 * once per sync (`updateServices`), so a burst of objects costs one rebuild, not one per object. Route problems
 * are logged once each (a problem that persists across rebuilds is not repeated). Construction does no I/O.
 */
import type { SourceEvent } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { checkCertificatePair } from './certificates.ts';
import { buildRouteTable, type RouteOptions } from './routes.ts';
import { IngressStore, type StoreResult } from './store.ts';
import type { RouteTable, ServiceView } from './types.ts';

export interface IngressControllerOptions {
  readonly logger: Logger;
  /** Receives every new table, e.g. `(t) => server.setRouteTable(t)`. */
  readonly publish: (table: RouteTable) => void;
  readonly routeOptions?: RouteOptions;
  /** Default true. False: no HTTPS listener, so no Secrets are watched or waited for, and spec.tls is not read. */
  readonly tls?: boolean;
}

const EMPTY_VIEW: ServiceView = { services: new Map(), endpoints: new Map() };

export class IngressController {
  readonly #store: IngressStore;
  readonly #options: IngressControllerOptions;
  readonly #routeOptions: RouteOptions;
  #view: ServiceView = EMPTY_VIEW;
  #reported = new Set<string>();

  constructor(options: IngressControllerOptions) {
    this.#options = options;
    const tls = options.tls ?? true;
    this.#store = new IngressStore({ withSecrets: tls });
    this.#routeOptions = { checkCertificate: checkCertificatePair, ...options.routeOptions, ...(tls ? {} : { tls: false }) };
  }

  /**
   * Feed one source event. `changed` says the table is stale; the caller reports `rejection` (with its metrics)
   * and calls updateServices() or rebuild() when it syncs.
   */
  apply(event: SourceEvent): StoreResult {
    return this.#store.apply(event);
  }

  /** Ingresses, IngressClasses and (with TLS) Secrets have all been listed once (see IngressStore.synced). */
  get synced(): boolean {
    return this.#store.synced;
  }

  /** A new service snapshot (any object with `services` and `endpoints`, e.g. the tracker's Snapshot): rebuild. */
  updateServices(view: ServiceView): void {
    this.#view = view;
    this.rebuild();
  }

  rebuild(): RouteTable {
    const table = buildRouteTable(
      this.#store.ingresses(),
      this.#store.ingressClasses(),
      this.#store.secrets(),
      this.#view,
      this.#routeOptions,
    );
    const now = new Set<string>();
    for (const p of table.problems) {
      const line = `${p.object}: ${p.message}`;
      now.add(line);
      if (!this.#reported.has(line)) this.#options.logger.warn({ object: p.object }, `ingress: ${line}`);
    }
    this.#reported = now;
    this.#options.publish(table);
    return table;
  }
}
