/**
 * One service port → its object group: its own chains (Local policies, affinity, firewall) or elements of the shared
 * chains' maps (shared.ts), its verdict-map elements and its claims on shared sets. Pure.
 */
import type { FamilySettings, PlannedEndpoint, ServicePlan } from '../../plan/types.ts';
import { normalizeCidrs } from './addr.ts';
import type { Chain, ElementRef, L4, ObjectGroup, Rule, SetDef, SlotRange } from './model.ts';
import { affinitySetName, endpointChainName, externalChainName, firewallChainName, localChainName, serviceChainName } from './names.ts';
import { elementKey, renderVerdict, slotKey } from './render.ts';
import { placeEndpoints } from './slots.ts';
import { clusterEndpointsMapName, nodePortEndpointsMapName, sharedChainName } from './shared.ts';
import {
  CLUSTER_IPS,
  DROP_TEXT,
  FIREWALL_IPS,
  GOTO_REJECT_TEXT,
  HAIRPIN_ENDPOINTS,
  MARK_FOR_MASQ,
  NO_ENDPOINT_NODEPORTS,
  NO_ENDPOINT_SERVICES,
  NO_SETS,
  SERVICE_IPS,
  SERVICE_NODEPORTS,
  goto,
  jump,
  podSourceMatch,
  rule,
  verdict,
} from './base.ts';

const l4 = (p: ServicePlan): L4 => p.protocol.toLowerCase() as L4;

/**
 * An endpoint's key in a slot range: its endpoint-map value text (`address . port`), so the range and the map
 * elements share one string per endpoint.
 */
const endpointKey = (e: PlannedEndpoint): string => elementKey(e.ip, e.port);
export const clusterSelectionKey = (p: ServicePlan): string => `${p.id}|cluster`;
export const localSelectionKey = (p: ServicePlan): string => `${p.id}|local`;
export const selectionKeysOf = (id: string): [string, string] => [`${id}|cluster`, `${id}|local`];

/** Which of a service's selection chains exist: the cluster one (`service-…`) and the local one (`local-…`). */
const selectionUse = (p: ServicePlan): { readonly cluster: boolean; readonly local: boolean; readonly hasExternal: boolean } => {
  const hasExternal = p.externalIPs.length > 0 || p.loadBalancerIPs.length > 0 || p.nodePort !== 0;
  const internalUses = p.internalVerdict === 'endpoints' ? (p.internalPolicyLocal ? 'local' : 'cluster') : undefined;
  const externalUsesLocal = hasExternal && p.externalVerdict === 'endpoints' && p.externalPolicyLocal;
  const externalUsesCluster = hasExternal && p.externalVerdict === 'endpoints';
  return {
    cluster: p.clusterEndpoints.length > 0 && (internalUses === 'cluster' || externalUsesCluster),
    local: p.localEndpoints.length > 0 && (internalUses === 'local' || externalUsesLocal),
    hasExternal,
  };
};

/** Distinct endpoint keys (`address . port`) of a list, in order. */
const distinctKeys = (eps: readonly PlannedEndpoint[]): string[] => [...new Set(eps.map(endpointKey))];

/**
 * Whether the service port uses shared chains (see shared.ts) instead of chains of its own: every frontend picks
 * among all cluster endpoints (Cluster internal and external policies), no affinity. Local policies and affinity
 * need per-service rules.
 */
const usesSharedChain = (p: ServicePlan): boolean =>
  p.affinityTimeoutSeconds === undefined &&
  p.clusterIP !== '' &&
  p.internalVerdict === 'endpoints' &&
  !p.internalPolicyLocal &&
  p.clusterEndpoints.length > 0 &&
  (!selectionUse(p).hasExternal || (p.externalVerdict === 'endpoints' && !p.externalPolicyLocal));

/** Selections that live in the shared endpoint maps: several endpoints, no affinity (which needs its own chains). */
export const slotSelections = (p: ServicePlan): { key: string; endpoints: string[]; pool: string }[] => {
  if (p.affinityTimeoutSeconds !== undefined || usesSharedChain(p)) return [];
  const use = selectionUse(p);
  const out: { key: string; endpoints: string[]; pool: string }[] = [];
  const add = (key: string, eps: readonly PlannedEndpoint[]): void => {
    const keys = distinctKeys(eps);
    if (keys.length > 1) out.push({ key, endpoints: keys, pool: l4(p) });
  };
  if (use.cluster) add(clusterSelectionKey(p), p.clusterEndpoints);
  if (use.local) add(localSelectionKey(p), p.localEndpoints);
  return out;
};

export type SlotLookup = (key: string) => SlotRange | undefined;

/** Rules that pick one of `endpoints` and DNAT to it (with per-endpoint chains only when affinity needs them). */
const selectionRules = (
  p: ServicePlan,
  endpoints: readonly PlannedEndpoint[],
  range: SlotRange | undefined,
): Rule[] => {
  if (p.affinityTimeoutSeconds === undefined) {
    if (range !== undefined) {
      return [rule([], { a: 'dnatSlots', proto: l4(p), map: range.map, mod: range.endpoints.length, offset: range.offset })];
    }
    const e = endpoints[0]!;
    return [rule([], { a: 'dnat', proto: l4(p), targets: [{ ip: e.ip, port: e.port }] })];
  }
  const chains = endpoints.map((e) => endpointChainName(p, e));
  return [
    ...endpoints.map((e, i) =>
      rule([{ m: 'addrInSet', field: 'saddr', op: '==', set: affinitySetName(p, e) }], verdict(goto(chains[i]!))),
    ),
    chains.length === 1 ? rule([], verdict(goto(chains[0]!))) : rule([], { a: 'numgenGoto', chains }),
  ];
};

const uniqueEndpoints = (lists: readonly (readonly PlannedEndpoint[])[]): PlannedEndpoint[] => {
  const seen = new Map<string, PlannedEndpoint>();
  for (const l of lists) for (const e of l) seen.set(`${e.ip}|${e.port}`, e);
  return [...seen.values()];
};

/** The endpoint keys a group holds in a `cluster-endpoints-…` map, by index (the order they were added in). */
const sharedOrderOf = (g: ObjectGroup | undefined, proto: L4, clusterIP: string): string[] => {
  if (g?.sharedChains === undefined) return [];
  const map = clusterEndpointsMapName(proto);
  const prefix = `${clusterIP} . `;
  return g.elements.filter((e) => e.set === map && e.key.startsWith(prefix)).map((e) => e.value);
};

/** `firewall-…`: drops load-balancer traffic from outside loadBalancerSourceRanges (reached from firewall-ips). */
const firewallChain = (p: ServicePlan): Chain => ({
  name: firewallChainName(p),
  rules: [rule([{ m: 'addr', field: 'saddr', op: '!=', values: normalizeCidrs(p.loadBalancerSourceRanges) }], verdict({ v: 'drop' }))],
});

/**
 * A service port on shared chains: its endpoints as `address . port . index` elements for the ClusterIP and each
 * external/load-balancer IP and `nodePort . index` elements (endpoints kept at their index from `previous`, the
 * group the kernel holds, so a change touches few elements); verdict elements `goto cluster-/external-/nodeport-
 * <proto>-<N>`; the hairpin and cluster-ips claims every service makes; its own firewall chain, if any.
 */
const buildSharedService = (p: ServicePlan, previous: ObjectGroup | undefined): ObjectGroup => {
  const proto = l4(p);
  const port = String(p.port);
  const elements: ElementRef[] = [];
  const sharedChains: string[] = [];
  const addElement = (set: string, key: string, value = ''): void => void elements.push({ set, key, value, owner: p.id });
  const endpoints = placeEndpoints(sharedOrderOf(previous, proto, p.clusterIP), distinctKeys(p.clusterEndpoints));
  const n = endpoints.length;
  const byAddress = clusterEndpointsMapName(proto);
  const use = (chain: string): string => {
    sharedChains.push(chain);
    return renderVerdict(goto(chain));
  };
  const frontend = (ip: string, target: string): void => {
    endpoints.forEach((k, i) => addElement(byAddress, elementKey(ip, port, slotKey(i)), k));
    addElement(SERVICE_IPS, elementKey(ip, proto, port), target);
  };
  frontend(p.clusterIP, use(sharedChainName('cluster', proto, n)));
  addElement(CLUSTER_IPS, p.clusterIP);
  for (const ip of new Set([...p.clusterEndpoints, ...p.localEndpoints].map((e) => e.ip))) addElement(HAIRPIN_ENDPOINTS, elementKey(ip, ip));

  const chains: Chain[] = [];
  const externalIPs = [...new Set([...p.externalIPs, ...p.loadBalancerIPs])];
  if (externalIPs.length > 0) {
    const target = use(sharedChainName('external', proto, n));
    for (const ip of externalIPs) frontend(ip, target);
  }
  if (p.nodePort !== 0) {
    const map = nodePortEndpointsMapName(proto);
    endpoints.forEach((k, i) => addElement(map, elementKey(p.nodePort, slotKey(i)), k));
    addElement(SERVICE_NODEPORTS, elementKey(proto, p.nodePort), use(sharedChainName('nodeport', proto, n)));
  }
  if (p.loadBalancerIPs.length > 0 && p.loadBalancerSourceRanges.length > 0) {
    const fw = firewallChain(p);
    chains.push(fw);
    const toFirewall = renderVerdict(goto(fw.name));
    for (const ip of new Set(p.loadBalancerIPs)) addElement(FIREWALL_IPS, elementKey(ip, proto, port), toFirewall);
  }
  return { chains, sets: NO_SETS, elements, sharedChains };
};

/**
 * Everything one service port contributes: its chains, affinity sets and map elements. `previous` (its group in the
 * ruleset the kernel holds) keeps endpoints at their index in the shared maps.
 */
export const buildService = (
  p: ServicePlan,
  settings: FamilySettings,
  slotOf: SlotLookup = () => undefined,
  previous?: ObjectGroup,
): ObjectGroup => {
  if (usesSharedChain(p)) return buildSharedService(p, previous);
  const proto = l4(p);
  const chains: Chain[] = [];
  const sets: SetDef[] = [];
  const elements: ElementRef[] = [];
  const addElement = (set: string, key: string, value = ''): void => void elements.push({ set, key, value, owner: p.id });
  const port = String(p.port);

  const externalIPs = [...new Set([...p.externalIPs, ...p.loadBalancerIPs])];
  const use = selectionUse(p);
  const hasExternal = use.hasExternal;
  const internalUses = p.internalVerdict === 'endpoints' ? (p.internalPolicyLocal ? 'local' : 'cluster') : undefined;

  const clusterChain = use.cluster ? serviceChainName(p) : undefined;
  const localChain = use.local ? localChainName(p) : undefined;
  const addSelection = (name: string, endpoints: readonly PlannedEndpoint[], selectionKey: string): void => {
    const range = p.affinityTimeoutSeconds === undefined ? slotOf(selectionKey) : undefined;
    chains.push({ name, rules: selectionRules(p, endpoints, range) });
    if (range === undefined) return;
    const map = range.map;
    range.endpoints.forEach((k, i) => addElement(map, slotKey(range.offset + i), k));
  };
  if (clusterChain !== undefined) addSelection(clusterChain, p.clusterEndpoints, clusterSelectionKey(p));
  if (localChain !== undefined) addSelection(localChain, p.localEndpoints, localSelectionKey(p));

  // Shared sets: the set keeps one element per key however many services claim it (see diff.ts).
  if (p.clusterIP !== '') addElement(CLUSTER_IPS, p.clusterIP);
  for (const ip of new Set([...p.clusterEndpoints, ...p.localEndpoints].map((e) => e.ip))) {
    addElement(HAIRPIN_ENDPOINTS, elementKey(ip, ip));
  }

  if (p.affinityTimeoutSeconds !== undefined) {
    const used = uniqueEndpoints([clusterChain ? p.clusterEndpoints : [], localChain ? p.localEndpoints : []]);
    for (const e of used) {
      const setName = affinitySetName(p, e);
      sets.push({ name: setName, kind: 'set', key: ['addr'], flags: ['dynamic', 'timeout'] });
      chains.push({
        name: endpointChainName(p, e),
        rules: [
          rule([], { a: 'updateSaddr', set: setName, timeoutSeconds: p.affinityTimeoutSeconds }),
          rule([], { a: 'dnat', proto, targets: [{ ip: e.ip, port: e.port }] }),
        ],
      });
    }
  }

  const rejectOrDrop = (v: ServicePlan['internalVerdict']): string => (v === 'drop' ? DROP_TEXT : GOTO_REJECT_TEXT);

  // Internal (ClusterIP) traffic.
  if (p.clusterIP !== '') {
    const target = internalUses === 'local' ? localChain : internalUses === 'cluster' ? clusterChain : undefined;
    const key = elementKey(p.clusterIP, proto, port);
    if (target !== undefined) addElement(SERVICE_IPS, key, renderVerdict(goto(target)));
    else addElement(NO_ENDPOINT_SERVICES, key, rejectOrDrop(p.internalVerdict === 'endpoints' ? 'reject' : p.internalVerdict));
  }

  // External traffic: NodePort, externalIPs, load-balancer IPs.
  if (hasExternal) {
    let externalChain: string | undefined;
    if (p.externalVerdict === 'endpoints') {
      const rules: Rule[] = [];
      if (!p.externalPolicyLocal) {
        if (clusterChain !== undefined) rules.push(rule([], jump(MARK_FOR_MASQ)), rule([], verdict(goto(clusterChain))));
      } else if (localChain !== undefined) {
        if (clusterChain !== undefined) {
          const fromPod = podSourceMatch(settings, '==');
          // Pods reaching an external address of the service are cluster traffic: any endpoint will do.
          if (fromPod !== undefined) rules.push(rule([fromPod], verdict(goto(clusterChain))));
          // The node itself has no local client IP worth keeping: masquerade and use any endpoint.
          rules.push(rule([{ m: 'fibLocal', field: 'saddr' }], jump(MARK_FOR_MASQ)));
          rules.push(rule([{ m: 'fibLocal', field: 'saddr' }], verdict(goto(clusterChain))));
        }
        rules.push(rule([], verdict(goto(localChain))));
      }
      if (rules.length > 0) {
        externalChain = externalChainName(p);
        chains.push({ name: externalChain, rules });
      }
    }
    const externalVerdict = externalChain !== undefined ? renderVerdict(goto(externalChain)) : rejectOrDrop(p.externalVerdict === 'endpoints' ? 'reject' : p.externalVerdict);
    const ipMap = externalChain !== undefined ? SERVICE_IPS : NO_ENDPOINT_SERVICES;
    for (const ip of externalIPs) addElement(ipMap, elementKey(ip, proto, port), externalVerdict);
    if (p.nodePort !== 0) {
      const npMap = externalChain !== undefined ? SERVICE_NODEPORTS : NO_ENDPOINT_NODEPORTS;
      addElement(npMap, elementKey(proto, p.nodePort), externalVerdict);
    }
    if (p.loadBalancerIPs.length > 0 && p.loadBalancerSourceRanges.length > 0) {
      const fw = firewallChain(p);
      const toFirewall = renderVerdict(goto(fw.name));
      chains.push(fw);
      for (const ip of new Set(p.loadBalancerIPs)) {
        addElement(FIREWALL_IPS, elementKey(ip, proto, port), toFirewall);
      }
    }
  }
  // Exact-size copies: arrays grown by push keep up to twice their length in capacity, 10k groups long.
  return { chains: chains.slice(), sets: sets.length === 0 ? NO_SETS : sets, elements: elements.slice() };
};

