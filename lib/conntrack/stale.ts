/**
 * Which conntrack entries a sync made stale — pure, from (previous DesiredState, next DesiredState), following
 * kube-proxy's pkg/proxy/conntrack cleanup. Only UDP: TCP flows to a gone endpoint end on their own (RST/timeout),
 * but a UDP client that keeps sending from one source port keeps its conntrack entry — and its DNAT to the old
 * endpoint — alive forever.
 *  1. An endpoint removed from a service port: delete that port's flows (to the ClusterIP, externalIPs,
 *     load-balancer IPs, and the NodePort) that were DNATed to the endpoint.
 *  2. A service port that had no endpoints and now has some: delete every flow to its addresses and NodePort,
 *     which were created while traffic had nowhere to go and would otherwise never be DNATed.
 */
import type { IPFamily } from '../model/types.ts';
import type { DesiredState, PlannedEndpoint, ServicePlan } from '../plan/types.ts';

export type ConntrackDeletion =
  /** Flows to ip:port, whatever their NAT. */
  | { readonly kind: 'address'; readonly family: IPFamily; readonly ip: string; readonly port: number }
  /** Flows whose original destination port is a NodePort. */
  | { readonly kind: 'node-port'; readonly family: IPFamily; readonly port: number }
  /** Flows to ip:port DNATed to `endpoint`. */
  | { readonly kind: 'address-endpoint'; readonly family: IPFamily; readonly ip: string; readonly port: number; readonly endpoint: string }
  /** Flows to a NodePort DNATed to `endpoint`. */
  | { readonly kind: 'node-port-endpoint'; readonly family: IPFamily; readonly port: number; readonly endpoint: string };

const usedEndpoints = (plan: ServicePlan): PlannedEndpoint[] => {
  const seen = new Map<string, PlannedEndpoint>();
  for (const ep of [...plan.clusterEndpoints, ...plan.localEndpoints]) seen.set(`${ep.ip}|${ep.port}`, ep);
  return [...seen.values()];
};

/** Every address the plan's port answers on (ClusterIP, externalIPs, load-balancer IPs). */
const frontendIPs = (plan: ServicePlan): string[] =>
  [...new Set([plan.clusterIP, ...plan.externalIPs, ...plan.loadBalancerIPs].filter((ip) => ip !== ''))];

const deletionKey = (d: ConntrackDeletion): string =>
  d.kind === 'address' || d.kind === 'address-endpoint'
    ? `${d.kind}|${d.family}|${d.ip}|${d.port}|${'endpoint' in d ? d.endpoint : ''}`
    : `${d.kind}|${d.family}|${d.port}|${'endpoint' in d ? d.endpoint : ''}`;

export const staleConntrackEntries = (previous: DesiredState | undefined, next: DesiredState): ConntrackDeletion[] => {
  const before = new Map((previous?.services ?? []).map((p) => [p.id, p]));
  const after = new Map(next.services.map((p) => [p.id, p]));
  const out = new Map<string, ConntrackDeletion>();
  const add = (d: ConntrackDeletion): void => {
    out.set(deletionKey(d), d);
  };

  // 1. Endpoints gone from a port (including ports that are gone altogether): the old frontends were where the
  //    stale flows were addressed.
  for (const [id, old] of before) {
    if (old.protocol !== 'UDP') continue;
    const now = after.get(id);
    const kept = new Set(now ? usedEndpoints(now).map((ep) => `${ep.ip}|${ep.port}`) : []);
    for (const ep of usedEndpoints(old)) {
      if (kept.has(`${ep.ip}|${ep.port}`)) continue;
      for (const ip of frontendIPs(old)) add({ kind: 'address-endpoint', family: old.family, ip, port: old.port, endpoint: ep.ip });
      if (old.nodePort > 0) add({ kind: 'node-port-endpoint', family: old.family, port: old.nodePort, endpoint: ep.ip });
    }
  }

  // 2. Ports that just got their first endpoint.
  for (const [id, plan] of after) {
    if (plan.protocol !== 'UDP' || usedEndpoints(plan).length === 0) continue;
    const old = before.get(id);
    if (old && usedEndpoints(old).length > 0) continue;
    for (const ip of frontendIPs(plan)) add({ kind: 'address', family: plan.family, ip, port: plan.port });
    if (plan.nodePort > 0) add({ kind: 'node-port', family: plan.family, port: plan.nodePort });
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
};
