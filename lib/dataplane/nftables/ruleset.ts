/**
 * DesiredState → typed nftables ruleset (one table per family). Pure.
 *
 * Fixed chains hold a handful of rules; everything per service port lives in map/set elements (endpoints in shared
 * slot maps, see slots.ts) plus that service's own chains, so a service change is a few element updates and at
 * most a rewrite of its chains. Nothing in the fixed part grows with services. See README.md.
 */
import type { IPFamily } from '../../model/types.ts';
import type { DesiredState, FamilySettings, PlannedEndpoint, ServicePlan } from '../../plan/types.ts';
import { normalizeCidrs } from './addr.ts';
import {
  MASQ_MARK,
  type SlotRange,
  type Action,
  type Chain,
  type ElementRef,
  type FamilyRuleset,
  type L4,
  type Match,
  type ObjectGroup,
  type Rule,
  type Ruleset,
  type SetDef,
  type Verdict,
} from './model.ts';
import {
  affinitySetName,
  endpointChainName,
  externalChainName,
  firewallChainName,
  localChainName,
  serviceChainName,
} from './names.ts';
import { elementKey, renderVerdict, slotKey } from './render.ts';
import { BASE_OWNER } from './index.ts';
import { LayeredMap } from './layered-map.ts';
import { placeEndpoints, SlotAllocator } from './slots.ts';
import {
  clusterEndpointsMapName,
  nodePortEndpointsMapName,
  parseSharedChain,
  SharedChainCounts,
  sharedChainName,
  sharedMapOf,
  type SharedInUse,
} from './shared.ts';

// Fixed object names.
export const SERVICE_IPS = 'service-ips';
export const SERVICE_NODEPORTS = 'service-nodeports';
export const NO_ENDPOINT_SERVICES = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS = 'no-endpoint-nodeports';
export const FIREWALL_IPS = 'firewall-ips';
export const CLUSTER_IPS = 'cluster-ips';
export const NODEPORT_IPS = 'nodeport-ips';
export const CLUSTER_CIDRS = 'cluster-cidrs';
export const HAIRPIN_ENDPOINTS = 'hairpin-endpoints';
export const REJECT_CHAIN = 'reject-chain';
export const MARK_FOR_MASQ = 'mark-for-masquerade';

const rule = (matches: readonly Match[], ...actions: Action[]): Rule => ({ matches, actions });
const verdict = (v: Verdict): Action => ({ a: 'verdict', verdict: v });
const jump = (chain: string): Action => verdict({ v: 'jump', chain });
const goto = (chain: string): Verdict => ({ v: 'goto', chain });
const ctNew: Match = { m: 'ctState', state: 'new' };
const SERVICE_KEY = ['daddr', 'l4proto', 'dport'] as const;
const NO_SETS: readonly SetDef[] = Object.freeze([]);
const DROP_TEXT = renderVerdict({ v: 'drop' });
const GOTO_REJECT_TEXT = renderVerdict(goto(REJECT_CHAIN));

const setDefs: readonly SetDef[] = [
  { name: SERVICE_IPS, kind: 'map', key: ['addr', 'proto', 'port'], flags: [] },
  { name: SERVICE_NODEPORTS, kind: 'map', key: ['proto', 'port'], flags: [] },
  { name: NO_ENDPOINT_SERVICES, kind: 'map', key: ['addr', 'proto', 'port'], flags: [] },
  { name: NO_ENDPOINT_NODEPORTS, kind: 'map', key: ['proto', 'port'], flags: [] },
  { name: FIREWALL_IPS, kind: 'map', key: ['addr', 'proto', 'port'], flags: [] },
  { name: CLUSTER_IPS, kind: 'set', key: ['addr'], flags: [] },
  { name: NODEPORT_IPS, kind: 'set', key: ['addr'], flags: [] },
  { name: CLUSTER_CIDRS, kind: 'set', key: ['addr'], flags: ['interval'] },
  { name: HAIRPIN_ENDPOINTS, kind: 'set', key: ['addr', 'addr'], flags: [] },
];

const loopback = (family: IPFamily): string => (family === 4 ? '127.0.0.0/8' : '::1');

/** The match that selects traffic addressed to a NodePort, or undefined when NodePorts answer nowhere. */
const nodePortMatches = (family: IPFamily, s: FamilySettings): Match[] | undefined => {
  if (s.nodePortAddresses.length > 0) return [{ m: 'addrInSet', field: 'daddr', op: '==', set: NODEPORT_IPS }];
  if (s.nodePortOnAllLocal) {
    return [
      { m: 'fibLocal', field: 'daddr' },
      { m: 'addr', field: 'daddr', op: '!=', values: [loopback(family)] },
    ];
  }
  return undefined;
};

/** Fixed chains, set definitions and the elements shared by all services. */
export const buildBase = (
  family: IPFamily,
  settings: FamilySettings,
  masqueradeAll: boolean,
  endpointMaps: readonly { readonly name: string; readonly pool: string }[],
  shared: SharedInUse = { chains: [], maps: [] },
): ObjectGroup => {
  const clusterCidrs = normalizeCidrs(settings.clusterCIDRs);
  const nodePort = nodePortMatches(family, settings);
  const baseChain = (name: string, type: 'filter' | 'nat', hook: NonNullable<Chain['base']>['hook'], priority: number, rules: Rule[]): Chain => ({
    name,
    base: { type, hook, priority },
    rules,
  });
  const masqMark: Rule[] = masqueradeAll
    ? [rule([{ m: 'addrInSet', field: 'daddr', op: '==', set: CLUSTER_IPS }], jump(MARK_FOR_MASQ))]
    : clusterCidrs.length > 0
      ? [
          rule(
            [
              { m: 'addrInSet', field: 'daddr', op: '==', set: CLUSTER_IPS },
              { m: 'addrInSet', field: 'saddr', op: '!=', set: CLUSTER_CIDRS },
            ],
            jump(MARK_FOR_MASQ),
          ),
        ]
      : [];
  const chains: Chain[] = [
    baseChain('filter-prerouting', 'filter', 'prerouting', -110, [rule([ctNew], jump('firewall-check'))]),
    baseChain('filter-input', 'filter', 'input', -10, [
      rule([ctNew], jump('nodeport-endpoints-check')),
      rule([ctNew], jump('service-endpoints-check')),
    ]),
    baseChain('filter-forward', 'filter', 'forward', -10, [
      rule([{ m: 'ctState', state: 'invalid' }], verdict({ v: 'drop' })),
      rule([ctNew], jump('service-endpoints-check')),
      rule([ctNew], jump('cluster-ips-check')),
    ]),
    baseChain('filter-output', 'filter', 'output', -110, [
      rule([ctNew], jump('service-endpoints-check')),
      rule([ctNew], jump('firewall-check')),
    ]),
    baseChain('filter-output-post-dnat', 'filter', 'output', -90, [rule([ctNew], jump('cluster-ips-check'))]),
    baseChain('nat-prerouting', 'nat', 'prerouting', -100, [rule([], jump('services'))]),
    baseChain('nat-output', 'nat', 'output', -100, [rule([], jump('services'))]),
    baseChain('nat-postrouting', 'nat', 'postrouting', 100, [
      rule([], jump('masquerading')),
      rule([{ m: 'ctStatusDnat' }, { m: 'keyInSet', key: ['saddr', 'daddr'], set: HAIRPIN_ENDPOINTS }], { a: 'masquerade' }),
    ]),
    {
      name: 'services',
      rules: [
        ...masqMark,
        rule([], { a: 'vmap', key: SERVICE_KEY, map: SERVICE_IPS }),
        ...(nodePort === undefined ? [] : [rule(nodePort, { a: 'vmap', key: ['l4proto', 'dport'], map: SERVICE_NODEPORTS })]),
      ],
    },
    {
      name: 'masquerading',
      rules: [
        rule([{ m: 'markUnset', mask: MASQ_MARK }], verdict({ v: 'return' })),
        rule([], { a: 'markXor', mask: MASQ_MARK }),
        rule([], { a: 'masquerade' }),
      ],
    },
    { name: MARK_FOR_MASQ, rules: [rule([], { a: 'markOr', mask: MASQ_MARK })] },
    { name: 'firewall-check', rules: [rule([], { a: 'vmap', key: SERVICE_KEY, map: FIREWALL_IPS })] },
    { name: 'service-endpoints-check', rules: [rule([], { a: 'vmap', key: SERVICE_KEY, map: NO_ENDPOINT_SERVICES })] },
    {
      name: 'nodeport-endpoints-check',
      rules: nodePort === undefined ? [] : [rule(nodePort, { a: 'vmap', key: ['l4proto', 'dport'], map: NO_ENDPOINT_NODEPORTS })],
    },
    {
      name: 'cluster-ips-check',
      rules: [rule([{ m: 'addrInSet', field: 'daddr', op: '==', set: CLUSTER_IPS }], verdict(goto(REJECT_CHAIN)))],
    },
    { name: REJECT_CHAIN, rules: [rule([], { a: 'reject', tcpReset: true }), rule([], { a: 'reject', tcpReset: false })] },
    // Shared DNAT chains, one per (kind, protocol, endpoint count) in use (see shared.ts). External traffic under
    // the Cluster policy is masqueraded, as the per-service external chain does.
    ...shared.chains.map((name): Chain => {
      const { kind, proto, n } = parseSharedChain(name);
      const dnat = rule([], { a: 'dnatShared', proto, map: sharedMapOf(kind, proto), mod: n, byAddress: kind !== 'nodeport' });
      return { name, rules: kind === 'cluster' ? [dnat] : [rule([], jump(MARK_FOR_MASQ)), dnat] };
    }),
  ];

  // cluster-ips and hairpin-endpoints elements belong to the services that need them (see buildService).
  const elements: ElementRef[] = [
    ...[...new Set(settings.nodePortAddresses)].sort().map((ip) => ({ set: NODEPORT_IPS, key: ip, value: '', owner: BASE_OWNER })),
    ...clusterCidrs.map((c) => ({ set: CLUSTER_CIDRS, key: c, value: '', owner: BASE_OWNER })),
  ];
  const endpointMapDefs = endpointMaps.map(
    (m): SetDef => ({ name: m.name, kind: 'map', key: ['slot'], flags: [], endpointProto: m.pool as L4 }),
  );
  const sharedMapDefs = shared.maps.map(
    (m): SetDef => ({ name: m.name, kind: 'map', key: m.byAddress ? ['addr', 'port', 'slot'] : ['port', 'slot'], flags: [], endpointProto: m.proto }),
  );
  return { chains, sets: [...setDefs, ...endpointMapDefs, ...sharedMapDefs], elements };
};

const l4 = (p: ServicePlan): L4 => p.protocol.toLowerCase() as L4;

/**
 * An endpoint's key in a slot range: its endpoint-map value text (`address . port`), so the range and the map
 * elements share one string per endpoint.
 */
const endpointKey = (e: PlannedEndpoint): string => elementKey(e.ip, e.port);
export const clusterSelectionKey = (p: ServicePlan): string => `${p.id}|cluster`;
export const localSelectionKey = (p: ServicePlan): string => `${p.id}|local`;
const selectionKeysOf = (id: string): [string, string] => [`${id}|cluster`, `${id}|local`];

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
const slotSelections = (p: ServicePlan): { key: string; endpoints: string[]; pool: string }[] => {
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

type SlotLookup = (key: string) => SlotRange | undefined;

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
          if (settings.clusterCIDRs.length > 0) {
            // Pods reaching an external address of the service are cluster traffic: any endpoint will do.
            rules.push(rule([{ m: 'addrInSet', field: 'saddr', op: '==', set: CLUSTER_CIDRS }], verdict(goto(clusterChain))));
          }
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

/** A plan's id (`<family>/<service port key>`, see ServicePlan.id) for a service port key. */
export const planIdOf = (family: IPFamily, servicePort: string): string => `${family}/${servicePort}`;

/**
 * The whole ruleset. `previous` (the ruleset the kernel holds) carries the endpoint-slot allocation forward, so
 * unchanged services keep their slots; without it slots are allocated afresh (a full sync). With `changed` (service
 * port keys), only those service ports are built again: every other group is taken from `previous` as it is, and
 * the cost follows the change (no pass over all services). Without `changed`, every group is built.
 */
export const buildRuleset = (
  state: DesiredState,
  families: readonly IPFamily[] = [4, 6],
  previous?: Ruleset,
  changed?: ReadonlySet<string>,
): Ruleset =>
  (previous !== undefined && changed !== undefined ? updateRuleset(state, families, previous, changed) : undefined) ?? {
    families: families.map((family): FamilyRuleset => {
      const prev = previous?.families.find((f) => f.family === family);
      const plans = state.services.filter((p) => p.family === family);
      const present = new Set(plans.map((p) => p.id));
      const removed = prev === undefined ? [] : [...prev.services.keys()].filter((id) => !present.has(id));
      return buildFamily(state, family, prev, plans, removed, LayeredMap.of(), false);
    }),
  };

/**
 * The ruleset with only the `changed` service ports built again, every other group taken from `previous` — or
 * undefined when that cannot be right: a family missing from `previous`, or a hint that misses a service port (the
 * plan count does not add up). Then only a full build (with `previous` for the slots) is correct, and so is only a
 * diff over every service.
 */
export const updateRuleset = (
  state: DesiredState,
  families: readonly IPFamily[],
  previous: Ruleset,
  changed: ReadonlySet<string>,
): Ruleset | undefined => {
  const out: FamilyRuleset[] = [];
  for (const family of families) {
    const prev = previous.families.find((f) => f.family === family);
    const fr = prev === undefined ? undefined : updateFamily(state, family, prev, changed);
    if (fr === undefined) return undefined;
    out.push(fr);
  }
  return { families: out };
};

/**
 * Only the plans of `changed` service ports built again; undefined when the result would not hold every plan of the
 * family (a plan missing from `prev` yet not named in `changed`: the hint was incomplete, build everything).
 */
const updateFamily = (state: DesiredState, family: IPFamily, prev: FamilyRuleset, changed: ReadonlySet<string>): FamilyRuleset | undefined => {
  const rebuilt: ServicePlan[] = [];
  let count = 0;
  for (const p of state.services) {
    if (p.family !== family) continue;
    count++;
    if (changed.has(p.servicePort)) rebuilt.push(p);
  }
  const present = new Set(rebuilt.map((p) => p.id));
  const removed: string[] = [];
  for (const key of changed) {
    const id = planIdOf(family, key);
    if (prev.services.has(id) && !present.has(id)) removed.push(id);
  }
  const fr = buildFamily(state, family, prev, rebuilt, removed, LayeredMap.derive(prev.services), true);
  return fr.services.size === count ? fr : undefined;
};

const buildFamily = (
  state: DesiredState,
  family: IPFamily,
  prev: FamilyRuleset | undefined,
  rebuilt: readonly ServicePlan[],
  removed: readonly string[],
  services: LayeredMap<string, ObjectGroup>,
  incremental: boolean,
): FamilyRuleset => {
  const settings = state.families[family];
  const slots = new SlotAllocator(prev?.slots);
  // Shared-chain usage: carried from `prev` when only some groups are rebuilt, else counted from scratch.
  const shared = new SharedChainCounts(incremental ? prev?.shared : undefined);
  if (incremental) {
    for (const id of removed) shared.add(prev?.services.get(id)?.sharedChains, -1);
    for (const p of rebuilt) shared.add(prev?.services.get(p.id)?.sharedChains, -1);
  }
  for (const id of removed) {
    services.delete(id);
    for (const k of selectionKeysOf(id)) slots.free(k);
  }
  // Groups not rebuilt keep their slot ranges untouched; only rebuilt plans and removed ones move slots.
  const wanted = new Map<string, { endpoints: string[]; pool: string }>();
  for (const p of rebuilt) for (const sel of slotSelections(p)) wanted.set(sel.key, sel);
  // Free what is gone or outgrown first, so that room is reused by what follows.
  for (const p of rebuilt) {
    for (const k of selectionKeysOf(p.id)) {
      const w = wanted.get(k);
      if (w === undefined || !slots.keeps(k, w.endpoints.length)) slots.free(k);
    }
  }
  for (const [k, w] of wanted) slots.assign(k, w.endpoints, w.pool);
  const slotOf = (k: string): SlotRange | undefined => slots.get(k);
  for (const p of rebuilt) {
    const g = buildService(p, settings, slotOf, prev?.services.get(p.id));
    services.set(p.id, g);
    shared.add(g.sharedChains, 1);
  }
  return {
    family,
    base: buildBase(family, settings, state.masqueradeAll, slots.mapsInUse(), shared.inUse()),
    services,
    slots: slots.result,
    shared: shared.result,
  };
};
