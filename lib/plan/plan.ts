/**
 * Snapshot → DesiredState: every decision the dataplanes share, made once (per service port and family: which
 * frontends, which backends, which verdict when there is no usable backend).
 *
 * Verdicts follow kube-proxy's nftables proxier: no usable endpoint anywhere → 'reject'; a Local policy with no
 * endpoint on this node while others exist → 'drop'; otherwise 'endpoints'. For external traffic under
 * externalTrafficPolicy Local, traffic from pods and from the node itself is still short-circuited to the Cluster
 * policy endpoints by the dataplane (as kube-proxy does), so `clusterEndpoints` is filled in for that case too.
 *
 * Choices documented here:
 *  - clusterCIDRs: --cluster-cidr when given (kube-proxy's default ClusterCIDR local-traffic detector); when it is
 *    empty, the Node's podCIDRs (kube-proxy's NodeCIDR detector). A family with neither gets none: nothing is
 *    treated as pod-originated for it. With `podInterface` (BridgeInterface/InterfaceNamePrefix) no CIDR is used:
 *    the input interface decides, for both families.
 *  - nodePortAddresses 'primary' (or unset): per family, the Node's first InternalIP, else its first ExternalIP
 *    (kube-proxy's GetNodeHostIPs); when the Node, or an address of that family, is unknown: any local address.
 *  - nodePortAddresses as CIDRs: resolved against the Node's InternalIP/ExternalIP addresses only, because the pure
 *    layer does not enumerate interface addresses. The CIDRs are passed on in `nodePortCIDRs` so a dataplane can
 *    match "local address inside these CIDRs" itself. A /0 CIDR means any local address, as in kube-proxy.
 */
import { IPV4_LOOPBACK, cidrContains, cidrsOverlap, parseCIDR } from '../model/ip.ts';
import type { Endpoint, IPFamily, NodeInfo, ServicePort } from '../model/types.ts';
import { endpointsFor, type Snapshot } from '../state/service-state.ts';
import { categorizeEndpoints } from './categorize.ts';
import { DEFAULT_MASQUERADE_MARK, type DesiredState, type FamilySettings, type PlannedEndpoint, type PodInterface, type ServicePlan, type TrafficVerdict } from './types.ts';

export interface PlanOptions {
  readonly nodeName: string;
  /** From --cluster-cidr; when empty, the Node's podCIDRs are used. */
  readonly clusterCIDRs: readonly string[];
  /** CIDRs, or 'primary'/undefined = the Node's primary IPs. */
  readonly nodePortAddresses: readonly string[] | 'primary' | undefined;
  readonly masqueradeAll: boolean;
  /** Pod traffic is what arrives on this interface (then no CIDR is used to tell it). */
  readonly podInterface?: PodInterface;
  /** The fwmark bit (0-31) that asks for masquerading; unset = kube-proxy's 14. */
  readonly masqueradeBit?: number;
  /**
   * NodePorts may answer on IPv4 loopback where nodePortAddresses covers it: kube-proxy's iptables-mode
   * --iptables-localhost-nodeports, with route_localnet=1 already set by the caller. Other modes never ask.
   */
  readonly localhostNodePorts?: boolean;
}

/** Whether --nodeport-addresses names IPv4 loopback (the only way NodePorts can answer there). */
export const nodePortAddressesCoverLoopback = (option: PlanOptions['nodePortAddresses']): boolean =>
  Array.isArray(option) && option.some((cidr) => cidrsOverlap(cidr, IPV4_LOOPBACK));

const FAMILIES: readonly IPFamily[] = [4, 6];

const cidrsOfFamily = (cidrs: readonly string[], family: IPFamily): string[] => {
  const out: string[] = [];
  for (const text of cidrs) {
    const parsed = parseCIDR(text);
    if (parsed && parsed.family === family && !out.includes(parsed.cidr)) out.push(parsed.cidr);
  }
  return out;
};

const ofFamily = (ips: readonly string[], family: IPFamily): string[] =>
  ips.filter((ip) => (ip.includes(':') ? 6 : 4) === family);

const nodePortSettings = (
  family: IPFamily,
  option: PlanOptions['nodePortAddresses'],
  node: NodeInfo | undefined,
): Pick<FamilySettings, 'nodePortAddresses' | 'nodePortOnAllLocal' | 'nodePortCIDRs'> => {
  if (option === undefined || option === 'primary') {
    const primary =
      ofFamily(node?.addresses.internal ?? [], family)[0] ?? ofFamily(node?.addresses.external ?? [], family)[0];
    return primary ? { nodePortAddresses: [primary], nodePortOnAllLocal: false } : { nodePortAddresses: [], nodePortOnAllLocal: true };
  }
  const cidrs = cidrsOfFamily(option, family);
  if (cidrs.some((cidr) => cidr.endsWith('/0'))) {
    return { nodePortAddresses: [], nodePortOnAllLocal: true, nodePortCIDRs: cidrs };
  }
  const known = [...(node?.addresses.internal ?? []), ...(node?.addresses.external ?? [])];
  const addresses = [...new Set(known.filter((ip) => cidrs.some((cidr) => cidrContains(cidr, ip))))];
  return { nodePortAddresses: addresses, nodePortOnAllLocal: false, nodePortCIDRs: cidrs };
};

export const familySettings = (
  snapshot: Snapshot,
  options: PlanOptions,
): Readonly<Record<IPFamily, FamilySettings>> => {
  const clusterSource = options.podInterface
    ? []
    : options.clusterCIDRs.length > 0
      ? options.clusterCIDRs
      : (snapshot.node?.podCIDRs ?? []);
  const settings = (family: IPFamily): FamilySettings => ({
    clusterCIDRs: cidrsOfFamily(clusterSource, family),
    ...(options.podInterface ? { podInterface: options.podInterface } : {}),
    ...(options.masqueradeBit !== undefined && 2 ** options.masqueradeBit !== DEFAULT_MASQUERADE_MARK ? { masqueradeMark: 2 ** options.masqueradeBit } : {}),
    ...nodePortSettings(family, options.nodePortAddresses, snapshot.node),
    ...(family === 4 && options.localhostNodePorts === true && nodePortAddressesCoverLoopback(options.nodePortAddresses) ? { localhostNodePorts: true } : {}),
  });
  return { 4: settings(4), 6: settings(6) };
};

const planned = (endpoints: readonly Endpoint[]): readonly PlannedEndpoint[] =>
  endpoints.map((ep) => ({ ip: ep.ip, port: ep.port, isLocal: ep.isLocal }));

/** One ServicePlan for one family of one service port, or undefined when the Service has no IP of that family. */
export const planServicePort = (
  port: ServicePort,
  family: IPFamily,
  endpoints: readonly Endpoint[],
  node: { readonly name: string; readonly zone: string | undefined },
): ServicePlan | undefined => {
  const index = port.ipFamilies.indexOf(family);
  const clusterIP = index >= 0 ? port.clusterIPs[index] : undefined;
  if (clusterIP === undefined) return undefined;

  const externalIPs = ofFamily(port.externalIPs, family);
  const loadBalancerIPs = ofFamily(port.loadBalancerIPs, family);
  const loadBalancerSourceRanges = cidrsOfFamily(port.loadBalancerSourceRanges, family);
  const familyView = { ...port, externalIPs, loadBalancerIPs };
  const familyEndpoints = endpoints.filter((ep) => ep.family === family);
  const categorized = categorizeEndpoints(familyEndpoints, familyView, node);

  const verdict = (policyLocal: boolean): TrafficVerdict =>
    !categorized.hasAnyEndpoints ? 'reject' : policyLocal && categorized.localEndpoints.length === 0 ? 'drop' : 'endpoints';

  return {
    id: `${family}/${port.key}`,
    servicePort: port.key,
    namespace: port.namespace,
    name: port.name,
    portName: port.portName,
    family,
    protocol: port.protocol,
    clusterIP,
    port: port.port,
    nodePort: port.nodePort,
    externalIPs,
    loadBalancerIPs,
    loadBalancerSourceRanges,
    affinityTimeoutSeconds: port.sessionAffinityTimeoutSeconds,
    internalPolicyLocal: port.internalPolicyLocal,
    externalPolicyLocal: port.externalPolicyLocal,
    clusterEndpoints: planned(categorized.clusterEndpoints),
    localEndpoints: planned(categorized.localEndpoints),
    internalVerdict: verdict(port.internalPolicyLocal),
    externalVerdict: verdict(port.externalPolicyLocal),
    healthCheckNodePort: port.healthCheckNodePort,
  };
};

const byId = (a: ServicePlan, b: ServicePlan): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export const planDesiredState = (snapshot: Snapshot, options: PlanOptions): DesiredState => {
  const node = { name: options.nodeName, zone: snapshot.node?.zone };
  const services: ServicePlan[] = [];
  for (const port of snapshot.services.values()) {
    const endpoints = endpointsFor(snapshot, port.key);
    for (const family of FAMILIES) {
      const plan = planServicePort(port, family, endpoints, node);
      if (plan) services.push(plan);
    }
  }
  services.sort(byId);
  return {
    nodeName: options.nodeName,
    masqueradeAll: options.masqueradeAll,
    families: familySettings(snapshot, options),
    services,
  };
};

/** The plans (both families) of one service port as `snapshot` has it: none when it is gone. */
const plansOf = (snapshot: Snapshot, key: string, node: { readonly name: string; readonly zone: string | undefined }): ServicePlan[] => {
  const port = snapshot.services.get(key);
  if (port === undefined) return [];
  const endpoints = endpointsFor(snapshot, port.key);
  const out: ServicePlan[] = [];
  for (const family of FAMILIES) {
    const plan = planServicePort(port, family, endpoints, node);
    if (plan) out.push(plan);
  }
  return out;
};

/**
 * planDesiredState for a snapshot that differs from the one `previous` was planned from only in the service ports
 * `changed` (ServiceState.commit's `changed`): the plans of every other service port are reused as they are, so the
 * cost follows the change, not the number of services. The result equals planDesiredState(snapshot, options).
 *
 * Only valid when `options` and this node's Node object (zone, addresses, podCIDRs) are what they were when
 * `previous` was planned — after a Node change, plan everything with planDesiredState.
 */
export const replanDesiredState = (
  previous: DesiredState,
  snapshot: Snapshot,
  options: PlanOptions,
  changed: ReadonlySet<string>,
): DesiredState => {
  if (changed.size === 0) return previous;
  const node = { name: options.nodeName, zone: snapshot.node?.zone };
  const fresh: ServicePlan[] = [];
  for (const key of changed) fresh.push(...plansOf(snapshot, key, node));
  fresh.sort(byId);
  // Merge the kept plans (already sorted) with the fresh ones.
  const services: ServicePlan[] = [];
  let i = 0;
  for (const plan of previous.services) {
    if (changed.has(plan.servicePort)) continue;
    while (i < fresh.length && byId(fresh[i]!, plan) < 0) services.push(fresh[i++]!);
    services.push(plan);
  }
  while (i < fresh.length) services.push(fresh[i++]!);
  return { ...previous, services };
};
