/**
 * discovery.k8s.io/v1 EndpointSlice → endpoints per service port, with kube-proxy's rules
 * (pkg/proxy/endpointslicecache.go, endpointschangetracker.go):
 *  - a slice belongs to the Service named by its `kubernetes.io/service-name` label (no label: ignored);
 *  - FQDN slices, and slices labelled service-proxy-name or headless, are ignored (kube-proxy's informer filter);
 *  - an endpoint's port is the slice port whose name (and protocol) equals the Service port's — never the
 *    Service's targetPort — so a named target port resolves per slice;
 *  - conditions: ready nil ⇒ true, serving nil ⇒ true, terminating nil ⇒ false (exactly what kube-proxy does;
 *    the API text says serving nil should "defer to ready", kube-proxy reads it as true);
 *  - only addresses[0] of an endpoint is used; endpoints without addresses are skipped;
 *  - duplicates (same ip:port) across slices: a later non-terminating endpoint replaces an earlier one, a
 *    terminating duplicate never replaces one already seen. kube-proxy walks slices in Go map order, so its pick
 *    among several non-terminating duplicates is arbitrary; we walk slices sorted by name to be deterministic.
 */
import { namespaceOf, parseEndpointSlice, type EndpointSliceObject, type ParseResult } from './api.ts';
import { joinHostPort, parseIP } from './ip.ts';
import { LABEL_HEADLESS, LABEL_SERVICE_PROXY_NAME } from './service.ts';
import type { Endpoint, IPFamily, Protocol, ServiceKey } from './types.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

export interface SlicePort {
  /** `""` for an unnamed port (also when the manifest leaves `name` out; see sliceFromObject). */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** One endpoint of a slice, before a port is chosen for it. */
export type SliceEndpoint = Omit<Endpoint, 'port'>;

export interface SliceInfo {
  /** `namespace/name` of the EndpointSlice itself. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  /** `namespace/service-name`: the Service this slice belongs to. */
  readonly serviceKey: ServiceKey;
  readonly ports: readonly SlicePort[];
  readonly endpoints: readonly SliceEndpoint[];
}

const sortedUnique = (names: readonly { readonly name: string }[] | null | undefined): readonly string[] =>
  [...new Set((names ?? []).map((n) => n.name))].sort();

/**
 * An already schema-validated slice → SliceInfo; `undefined` when kube-proxy would ignore the slice entirely.
 * Deviation, on purpose: a port with no `name` is read as `""`. The API server always stores `""` for an unnamed
 * port, so this only matters for hand-written manifests, where leaving it out is the natural way to write it
 * (kube-proxy would ignore a nil name).
 */
export const sliceFromObject = (
  slice: EndpointSliceObject,
  nodeName: string,
): ParseResult<SliceInfo | undefined> => {
  const labels = slice.metadata.labels ?? {};
  const serviceName = labels[LABEL_SERVICE_NAME];
  if (slice.addressType === 'FQDN' || !serviceName) return { ok: true, value: undefined };
  if (LABEL_SERVICE_PROXY_NAME in labels || LABEL_HEADLESS in labels) return { ok: true, value: undefined };

  const family: IPFamily = slice.addressType === 'IPv6' ? 6 : 4;
  const endpoints: SliceEndpoint[] = [];
  for (const [i, endpoint] of (slice.endpoints ?? []).entries()) {
    const addresses = endpoint.addresses ?? [];
    for (const [j, address] of addresses.entries()) {
      const parsed = parseIP(address);
      if (!parsed || parsed.family !== family) {
        return {
          ok: false,
          reason: `endpoints[${i}].addresses[${j}]: ${JSON.stringify(address)} is not a valid ${slice.addressType} address`,
        };
      }
    }
    const first = addresses[0];
    if (first === undefined) continue; // kube-proxy: "Ignoring invalid endpoint port with empty address"
    const ready = endpoint.conditions?.ready ?? true;
    const serving = endpoint.conditions?.serving ?? true;
    const terminating = endpoint.conditions?.terminating ?? false;
    const endpointNode = endpoint.nodeName ?? undefined;
    endpoints.push({
      ip: parseIP(first)?.ip ?? first,
      family,
      ready,
      serving,
      terminating,
      isLocal: nodeName !== '' && endpointNode === nodeName,
      nodeName: endpointNode,
      zone: endpoint.zone ?? undefined,
      zoneHints: sortedUnique(endpoint.hints?.forZones),
      nodeHints: sortedUnique(endpoint.hints?.forNodes),
    });
  }

  const ports: SlicePort[] = [];
  for (const port of slice.ports ?? []) {
    if (!port.port) continue; // kube-proxy: "Ignoring invalid endpoint port" (nil or 0)
    ports.push({ name: port.name ?? '', protocol: port.protocol ?? 'TCP', port: port.port });
  }

  const namespace = namespaceOf(slice.metadata);
  return {
    ok: true,
    value: {
      key: `${namespace}/${slice.metadata.name}`,
      name: slice.metadata.name,
      namespace,
      serviceKey: `${namespace}/${serviceName}`,
      ports,
      endpoints,
    },
  };
};

/** Validate an EndpointSlice as plain JSON and convert it; `undefined` value when it is to be ignored. */
export const endpointSliceFromObject = (input: unknown, nodeName: string): ParseResult<SliceInfo | undefined> => {
  const parsed = parseEndpointSlice(input);
  return parsed.ok ? sliceFromObject(parsed.value, nodeName) : parsed;
};

/** kube-proxy's endpoint order: by the `ip:port` string. */
export const compareEndpoints = (a: Endpoint, b: Endpoint): number => {
  const x = joinHostPort(a.ip, a.port);
  const y = joinHostPort(b.ip, b.port);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The merged, deduplicated, sorted endpoints of one service port (`portName`, `protocol`) across the slices of
 * its Service.
 */
export const mergeSliceEndpoints = (
  slices: Iterable<SliceInfo>,
  portName: string,
  protocol: Protocol,
): readonly Endpoint[] => {
  const ordered = [...slices].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byAddress = new Map<string, Endpoint>();
  for (const slice of ordered) {
    for (const port of slice.ports) {
      if (port.name !== portName || port.protocol !== protocol) continue;
      for (const endpoint of slice.endpoints) {
        const address = joinHostPort(endpoint.ip, port.port);
        // A running pod beats a terminating one that still holds the same IP (IP reuse before Pod deletion).
        if (!byAddress.has(address) || !endpoint.terminating) {
          byAddress.set(address, { ...endpoint, port: port.port });
        }
      }
    }
  }
  return [...byAddress.values()].sort(compareEndpoints);
};
