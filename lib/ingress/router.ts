/**
 * Request → backend lookup over a RouteTable. Pure and allocation-light: one map lookup for the host, one for an
 * Exact path, then a walk over that host's prefixes (longest first) until one matches.
 *
 * Request normalisation (decided here, documented in routes.ts for rules):
 * - Host: lower-cased; a port (`host:8080`, `[::1]:8080`) and a trailing dot are ignored.
 * - Path: the query string and fragment are ignored; percent-encoded unreserved characters (A-Z a-z 0-9 - . _ ~)
 *   are decoded, since RFC 3986 §6.2.2.2 makes them equivalent; every other escape stays as sent, so `%2F` is not
 *   a separator and `/foo%2Fbar` is the single element `foo%2Fbar`. Dot segments are not resolved and the path is
 *   forwarded unchanged. Matching is case-sensitive.
 */
import type { Backend, PathRoute, RouteTable, VirtualHost } from './types.ts';

export interface RouteMatch {
  readonly backend: Backend;
  /** The path rule that matched; undefined when the Ingress default backend took the request. */
  readonly route: PathRoute | undefined;
}

export const normaliseRequestHost = (host: string | undefined): string => {
  if (!host) return '';
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  return h.endsWith('.') ? h.slice(0, -1) : h;
};

const UNRESERVED_ESCAPE = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[dDeE]|5[fF]|7[eE])/g;

export const normaliseRequestPath = (target: string): string => {
  let end = target.length;
  const q = target.indexOf('?');
  if (q !== -1) end = q;
  const f = target.indexOf('#');
  if (f !== -1 && f < end) end = f;
  const path = end === target.length ? target : target.slice(0, end);
  return path.includes('%')
    ? path.replace(UNRESERVED_ESCAPE, (e) => String.fromCharCode(Number.parseInt(e.slice(1), 16)))
    : path;
};

/** The rules a host selects: exact host, else a one-label wildcard, else the host-less rules. */
export const selectVirtualHost = (table: RouteTable, host: string): VirtualHost | undefined => {
  const exact = table.exactHosts.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  if (dot > 0) {
    const wildcard = table.wildcardHosts.get(host.slice(dot + 1));
    if (wildcard) return wildcard;
  }
  return table.anyHost;
};

export const matchPath = (vhost: VirtualHost, path: string): PathRoute | undefined => {
  // An Exact match is as long as the request path, which no Prefix can exceed; on a tie Exact wins anyway.
  const exact = vhost.exact.get(path);
  if (exact) return exact;
  for (const route of vhost.prefixes) {
    const p = route.path;
    if (p === '' || path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47 /* '/' */)) return route;
  }
  return undefined;
};

/** `host` is the Host header (or SNI name) as received; `target` the request target (path, maybe with query). */
export const matchRoute = (table: RouteTable, host: string | undefined, target: string): RouteMatch | undefined => {
  const vhost = selectVirtualHost(table, normaliseRequestHost(host));
  const route = vhost ? matchPath(vhost, normaliseRequestPath(target)) : undefined;
  if (route) return { backend: route.backend, route };
  return table.defaultBackend ? { backend: table.defaultBackend, route: undefined } : undefined;
};

/** The certificate for an SNI name: exact host, else a one-label wildcard. */
export const selectCertificate = (table: RouteTable, serverName: string) => {
  const host = normaliseRequestHost(serverName);
  const exact = table.certificates.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  return dot > 0 ? table.certificates.get(`*${host.slice(dot)}`) : undefined;
};
