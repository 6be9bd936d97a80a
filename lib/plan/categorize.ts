/**
 * Which endpoints serve which traffic: kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go), the one rule every
 * dataplane shares.
 *
 *  - Cluster policy endpoints: ready endpoints, narrowed by topology hints when they apply; if none are ready,
 *    serving-and-terminating ones (graceful termination fallback).
 *  - Local policy endpoints: this node's ready endpoints; if none, this node's serving-and-terminating ones.
 *  - Topology: PreferSameNode when every ready endpoint has a node hint and one names this node; else
 *    PreferSameZone when every ready endpoint has a zone hint and one names this node's zone; else none.
 *  - externalTrafficPolicy Local only counts for a port reachable from outside (NodePort, LB IP, external IP).
 *
 * The ServicePort given should be the view of one family (plan.ts filters external and LB IPs per family before
 * calling), because "reachable from outside" is decided per family as kube-proxy's per-family proxiers do.
 */
import { joinHostPort } from '../model/ip.ts';
import type { Endpoint, ServicePort } from '../model/types.ts';

export type CategorizedPort = Pick<
  ServicePort,
  'nodePort' | 'externalIPs' | 'loadBalancerIPs' | 'internalPolicyLocal' | 'externalPolicyLocal'
>;

export interface NodeTopology {
  readonly name: string;
  /** This node's topology.kubernetes.io/zone label; undefined when unknown. */
  readonly zone: string | undefined;
}

export interface CategorizedEndpoints {
  /** Endpoints for Cluster-policy traffic; empty when the port never uses the Cluster policy. */
  readonly clusterEndpoints: readonly Endpoint[];
  /** Endpoints for Local-policy traffic; empty when the port never uses a Local policy. */
  readonly localEndpoints: readonly Endpoint[];
  /** Union of the two: every endpoint this node may send traffic to. Sorted by ip:port. */
  readonly allReachableEndpoints: readonly Endpoint[];
  /** Some usable endpoint exists anywhere in the cluster (even if none is reachable from here). */
  readonly hasAnyEndpoints: boolean;
}

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

export const externallyAccessible = (port: CategorizedPort): boolean =>
  port.nodePort !== 0 || port.loadBalancerIPs.length > 0 || port.externalIPs.length > 0;

/** The port sends some traffic by the Cluster policy (external traffic always may: short-circuiting). */
export const usesClusterEndpoints = (port: CategorizedPort): boolean =>
  !port.internalPolicyLocal || externallyAccessible(port);

export const usesLocalEndpoints = (port: CategorizedPort): boolean =>
  port.internalPolicyLocal || (port.externalPolicyLocal && externallyAccessible(port));

const isServingTerminating = (ep: Endpoint): boolean => ep.serving && ep.terminating;

/** kube-proxy's topologyModeFromHints: hints count only when every *ready* endpoint carries them. */
export const topologyModeFromHints = (endpoints: readonly Endpoint[], node: NodeTopology): TopologyMode => {
  const zone = node.zone ?? '';
  let hasReady = false;
  let allHaveNodeHints = true;
  let hasEndpointForNode = false;
  let allHaveZoneHints = true;
  let hasEndpointForZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (ep.nodeHints.length === 0) allHaveNodeHints = false;
    else if (ep.nodeHints.includes(node.name)) hasEndpointForNode = true;
    if (ep.zoneHints.length === 0) allHaveZoneHints = false;
    else if (ep.zoneHints.includes(zone)) hasEndpointForZone = true;
  }
  if (!hasReady) return '';
  if (allHaveNodeHints && hasEndpointForNode) return 'PreferSameNode';
  if (allHaveZoneHints && hasEndpointForZone) return 'PreferSameZone';
  return '';
};

const availableForTopology = (ep: Endpoint, mode: TopologyMode, node: NodeTopology): boolean => {
  switch (mode) {
    case '':
      return true;
    case 'PreferSameNode':
      return ep.nodeHints.includes(node.name);
    case 'PreferSameZone':
      return ep.zoneHints.includes(node.zone ?? '');
  }
};

const byAddress = (a: Endpoint, b: Endpoint): number => {
  const x = joinHostPort(a.ip, a.port);
  const y = joinHostPort(b.ip, b.port);
  return x < y ? -1 : x > y ? 1 : 0;
};

const NONE: readonly Endpoint[] = Object.freeze([]);

export const categorizeEndpoints = (
  endpoints: readonly Endpoint[],
  port: CategorizedPort,
  node: NodeTopology,
): CategorizedEndpoints => {
  if (endpoints.length === 0) {
    return { clusterEndpoints: NONE, localEndpoints: NONE, allReachableEndpoints: NONE, hasAnyEndpoints: false };
  }

  let topologyMode: TopologyMode = '';
  let clusterEndpoints: readonly Endpoint[] = NONE;
  let hasAnyEndpoints = false;
  const clusterUsed = usesClusterEndpoints(port);
  if (clusterUsed) {
    topologyMode = topologyModeFromHints(endpoints, node);
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, topologyMode, node));
    // No ready endpoint for the chosen topology means none is ready anywhere (topology was dropped otherwise).
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter(isServingTerminating);
    hasAnyEndpoints = clusterEndpoints.length > 0;
  }

  if (!usesLocalEndpoints(port)) {
    return { clusterEndpoints, localEndpoints: NONE, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };
  }

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalReady = true;
    } else if (isServingTerminating(ep)) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalServingTerminating = true;
    }
  }
  let localEndpoints: readonly Endpoint[] = NONE;
  let usesServingTerminating = false;
  if (hasLocalReady) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready);
  } else if (hasLocalServingTerminating) {
    usesServingTerminating = true;
    localEndpoints = endpoints.filter((ep) => ep.isLocal && isServingTerminating(ep));
  }

  if (!clusterUsed) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints };
  }
  if (topologyMode === '' && !usesServingTerminating) {
    // Cluster endpoints are then every ready endpoint, a superset of the (ready) local ones.
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };
  }
  const union = new Map<string, Endpoint>();
  for (const ep of [...clusterEndpoints, ...localEndpoints]) union.set(joinHostPort(ep.ip, ep.port), ep);
  return { clusterEndpoints, localEndpoints, allReachableEndpoints: [...union.values()].sort(byAddress), hasAnyEndpoints };
};
