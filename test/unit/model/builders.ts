/** Plain-JSON API objects and model values for the model/state/plan tests. */
import type { Endpoint } from '../../../lib/model/types.ts';
import type { KubeObject } from '../../../lib/source/types.ts';

type Json = Record<string, unknown>;

export const serviceObject = (
  name: string,
  spec: Json,
  options: { namespace?: string; labels?: Record<string, string>; status?: Json } = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: options.namespace ?? 'default', ...(options.labels ? { labels: options.labels } : {}) },
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...(options.status ? { status: options.status } : {}),
});

export interface EndpointJson {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
}

export const ep = (ip: string, extra: Omit<EndpointJson, 'addresses'> = {}): EndpointJson => ({ addresses: [ip], ...extra });

export const sliceObject = (
  name: string,
  serviceName: string | undefined,
  body: { addressType?: string; ports?: Json[] | null; endpoints?: EndpointJson[] | null; labels?: Record<string, string> },
  namespace = 'default',
): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name,
    namespace,
    labels: { ...(serviceName ? { 'kubernetes.io/service-name': serviceName } : {}), ...body.labels },
  },
  addressType: body.addressType ?? 'IPv4',
  ports: body.ports === undefined ? [{ name: 'http', port: 8080, protocol: 'TCP' }] : body.ports,
  endpoints: body.endpoints ?? [],
});

export const nodeObject = (
  name: string,
  options: { labels?: Record<string, string>; addresses?: { type: string; address: string }[]; podCIDRs?: string[] } = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, ...(options.labels ? { labels: options.labels } : {}) },
  spec: options.podCIDRs ? { podCIDR: options.podCIDRs[0], podCIDRs: options.podCIDRs } : {},
  status: { addresses: options.addresses ?? [{ type: 'InternalIP', address: '192.168.0.10' }] },
});

/** A model Endpoint: ready, serving, not terminating, remote, no hints, unless told otherwise. */
export const endpoint = (ip: string, extra: Partial<Endpoint> = {}): Endpoint => ({
  ip,
  family: ip.includes(':') ? 6 : 4,
  port: 8080,
  ready: true,
  serving: true,
  terminating: false,
  isLocal: false,
  nodeName: undefined,
  zone: undefined,
  zoneHints: [],
  nodeHints: [],
  ...extra,
});
