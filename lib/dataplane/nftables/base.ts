/**
 * The fixed part of a family's table: base chains, the chains and sets every service shares (service-ips and the
 * other verdict maps, the endpoint maps, the shared DNAT chains of shared.ts) and the elements no service owns. Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { masqueradeMarkOf, type FamilySettings } from '../../plan/types.ts';
import { normalizeCidrs } from './addr.ts';
import { type Action, type Chain, type ElementRef, type L4, type Match, type ObjectGroup, type Rule, type SetDef, type Verdict } from './model.ts';
import { renderVerdict } from './render.ts';
import { BASE_OWNER } from './index.ts';
import { parseSharedChain, sharedMapOf, type SharedInUse } from './shared.ts';

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

export const rule = (matches: readonly Match[], ...actions: Action[]): Rule => ({ matches, actions });
export const verdict = (v: Verdict): Action => ({ a: 'verdict', verdict: v });
export const jump = (chain: string): Action => verdict({ v: 'jump', chain });
export const goto = (chain: string): Verdict => ({ v: 'goto', chain });
const ctNew: Match = { m: 'ctState', state: 'new' };
const SERVICE_KEY = ['daddr', 'l4proto', 'dport'] as const;
export const NO_SETS: readonly SetDef[] = Object.freeze([]);
export const DROP_TEXT = renderVerdict({ v: 'drop' });
export const GOTO_REJECT_TEXT = renderVerdict(goto(REJECT_CHAIN));

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

/**
 * "From a pod" (`==`) or "not from a pod" (`!=`) under the local-traffic detector: the input interface when one is
 * configured, else the source against the cluster CIDRs; undefined when neither is known (nothing counts as a pod).
 */
export const podSourceMatch = (settings: FamilySettings, op: '==' | '!='): Match | undefined =>
  settings.podInterface
    ? { m: 'iifname', op, name: settings.podInterface.name, prefix: settings.podInterface.prefix }
    : settings.clusterCIDRs.length > 0
      ? { m: 'addrInSet', field: 'saddr', op, set: CLUSTER_CIDRS }
      : undefined;

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
  const notFromPod = podSourceMatch(settings, '!=');
  const masqueradeMark = masqueradeMarkOf(settings);
  const masqMark: Rule[] = masqueradeAll
    ? [rule([{ m: 'addrInSet', field: 'daddr', op: '==', set: CLUSTER_IPS }], jump(MARK_FOR_MASQ))]
    : notFromPod !== undefined
      ? [rule([{ m: 'addrInSet', field: 'daddr', op: '==', set: CLUSTER_IPS }, notFromPod], jump(MARK_FOR_MASQ))]
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
        rule([{ m: 'markUnset', mask: masqueradeMark }], verdict({ v: 'return' })),
        rule([], { a: 'markXor', mask: masqueradeMark }),
        rule([], { a: 'masquerade' }),
      ],
    },
    { name: MARK_FOR_MASQ, rules: [rule([], { a: 'markOr', mask: masqueradeMark })] },
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

