/**
 * The ingress route table: plain readonly data built by routes.ts (pure) and read by router.ts and server.ts.
 * A table is never mutated; a new one replaces the old one whole.
 */
import type { Endpoint, ServicePort, ServicePortKey } from '../model/types.ts';

export type PathType = 'Exact' | 'Prefix';

/** Where matched traffic goes: one port of one Service, with the endpoints known when the table was built. */
export interface Backend {
  /** `namespace/name` of the Service. */
  readonly service: string;
  /** The resolved ServicePort; undefined when the Service or the port does not exist (requests then get 503). */
  readonly servicePortKey: ServicePortKey | undefined;
  readonly endpoints: readonly Endpoint[];
}

export interface PathRoute {
  /** As written in the Ingress (Prefix paths are normalised without a trailing slash; `/` becomes ``). */
  readonly path: string;
  readonly type: PathType;
  readonly backend: Backend;
  /** `namespace/name` of the Ingress that contributed this path. */
  readonly ingress: string;
}

/** All paths for one host (or for every host, for rules without `host`). */
export interface VirtualHost {
  /** Exact paths by request path. */
  readonly exact: ReadonlyMap<string, PathRoute>;
  /** Prefix paths, longest first; the first one that matches wins. */
  readonly prefixes: readonly PathRoute[];
}

export interface TlsCertificate {
  /** PEM */
  readonly cert: string;
  /** PEM */
  readonly key: string;
  /** `namespace/name` of the Secret. */
  readonly secret: string;
}

export interface RouteTable {
  /** Lower-case host → paths. */
  readonly exactHosts: ReadonlyMap<string, VirtualHost>;
  /** `*.example.com` rules keyed by the parent domain (`example.com`): matches exactly one more label. */
  readonly wildcardHosts: ReadonlyMap<string, VirtualHost>;
  /** Rules without a host: serve requests whose host matches no host rule. */
  readonly anyHost: VirtualHost | undefined;
  /** spec.defaultBackend of the oldest served Ingress that has one. */
  readonly defaultBackend: Backend | undefined;
  /** Certificates by lower-case host; wildcard hosts keep their `*.` form. */
  readonly certificates: ReadonlyMap<string, TlsCertificate>;
  /** Ingress keys that this controller serves. */
  readonly ingresses: readonly string[];
  /** Human-readable notes about what was skipped and why (the caller logs them). */
  readonly problems: readonly RouteProblem[];
}

export interface RouteProblem {
  /** `Ingress ns/name`, `Secret ns/name`, … */
  readonly object: string;
  readonly message: string;
}

export const emptyRouteTable: RouteTable = {
  exactHosts: new Map(),
  wildcardHosts: new Map(),
  anyHost: undefined,
  defaultBackend: undefined,
  certificates: new Map(),
  ingresses: [],
  problems: [],
};

/**
 * What the route builder reads from the service state. Structurally a subset of `Snapshot` in
 * lib/state/service-state.ts, so a full Snapshot can be passed as is (kept local so the ingress layer does not
 * depend on the tracker's other fields).
 */
export interface ServiceView {
  readonly services: ReadonlyMap<ServicePortKey, ServicePort>;
  readonly endpoints: ReadonlyMap<ServicePortKey, readonly Endpoint[]>;
}
