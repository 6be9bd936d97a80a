/**
 * The service model: what kube-proxy calls ServicePort and Endpoint, as plain readonly data.
 * Pure: no I/O, no imports from source/dataplane/ingress layers.
 */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 4 | 6;
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/** `namespace/name:portName` — the identity of one port of one Service (portName may be ""). */
export type ServicePortKey = string;
/** `namespace/name` */
export type ServiceKey = string;

export const servicePortKey = (namespace: string, name: string, portName: string): ServicePortKey =>
  `${namespace}/${name}:${portName}`;

export interface ServicePort {
  readonly key: ServicePortKey;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly type: ServiceType;
  readonly protocol: Protocol;
  /** The Service's port (what clients dial on the ClusterIP). */
  readonly port: number;
  /** 0 when none is allocated. */
  readonly nodePort: number;
  /** One per family the Service has, in spec order (primary first). */
  readonly clusterIPs: readonly string[];
  readonly ipFamilies: readonly IPFamily[];
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip whose ipMode is VIP (or unset); ipMode Proxy ones are left to the LB. */
  readonly loadBalancerIPs: readonly string[];
  /** CIDRs, normalised (a bare IP becomes /32 or /128). Empty = no restriction. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** Set when sessionAffinity is ClientIP. */
  readonly sessionAffinityTimeoutSeconds: number | undefined;
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  /** 0 when none. Only meaningful for LoadBalancer with externalTrafficPolicy Local. */
  readonly healthCheckNodePort: number;
  /** spec.trafficDistribution, when set (PreferClose, PreferSameZone, PreferSameNode). */
  readonly trafficDistribution: string | undefined;
}

export interface Endpoint {
  readonly ip: string;
  readonly family: IPFamily;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** True when the endpoint's nodeName is this node. */
  readonly isLocal: boolean;
  readonly nodeName: string | undefined;
  readonly zone: string | undefined;
  readonly zoneHints: readonly string[];
  readonly nodeHints: readonly string[];
}

export interface NodeAddresses {
  readonly internal: readonly string[];
  readonly external: readonly string[];
}

/** What the proxy needs to know about the node it runs on. */
export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** topology.kubernetes.io/zone, when labelled. */
  readonly zone: string | undefined;
  readonly addresses: NodeAddresses;
  readonly podCIDRs: readonly string[];
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
  readonly taintKeys: readonly string[];
}

export const familyOf = (ip: string): IPFamily => (ip.includes(':') ? 6 : 4);
