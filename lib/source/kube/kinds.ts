/**
 * What switchyard watches for each resource kind: the collection path and the server-side selectors.
 * Services and EndpointSlices skip objects another proxy owns and headless Services, as kube-proxy does. Nodes are
 * watched one at a time: only this node's object matters, and a cluster-wide Node watch on every node of a large
 * cluster would stream every other node's status updates to each of them (kube-proxy selects its own node too).
 */
import type { ResourceKind } from '../types.ts';

export interface KindSpec {
  readonly kind: ResourceKind;
  readonly apiVersion: string;
  /** Cluster-wide collection path. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * A list refused with 403 Forbidden counts as listed and empty (kept retrying meanwhile). Only for kinds whose
   * absence degrades one feature: Secrets missing from RBAC must not keep the whole ingress from serving. Never for
   * Services or EndpointSlices, where "none" would delete every Service's rules.
   */
  readonly forbiddenMeansNone?: boolean;
}

/** kube-proxy's selector: not owned by another service proxy, not headless. */
export const PROXYABLE_SELECTOR = '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless';

export const KIND_SPECS: Readonly<Record<ResourceKind, KindSpec>> = {
  Service: { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', labelSelector: PROXYABLE_SELECTOR },
  EndpointSlice: {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    labelSelector: PROXYABLE_SELECTOR,
  },
  Node: { kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes' },
  Ingress: { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', path: '/apis/networking.k8s.io/v1/ingresses' },
  IngressClass: {
    kind: 'IngressClass',
    apiVersion: 'networking.k8s.io/v1',
    path: '/apis/networking.k8s.io/v1/ingressclasses',
  },
  Secret: {
    kind: 'Secret',
    apiVersion: 'v1',
    path: '/api/v1/secrets',
    fieldSelector: 'type=kubernetes.io/tls',
    forbiddenMeansNone: true,
  },
};

/** The spec of one kind for the proxy on `nodeName`: its Node watch selects that Node alone. */
export const kindSpecFor = (kind: ResourceKind, nodeName: string | undefined): KindSpec => {
  const spec = KIND_SPECS[kind];
  return kind === 'Node' && nodeName !== undefined ? { ...spec, fieldSelector: `metadata.name=${nodeName}` } : spec;
};
