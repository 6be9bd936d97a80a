/**
 * DesiredState → typed iptables rules, kube-proxy's iptables-mode layout under our own `SWITCHYARD-` chains. Pure.
 *
 * Every service port yields a RuleGroup: its own chains (SVC/SVL/EXT/FW, SEP only with session affinity), its rules
 * in the fixed chains (SERVICES, NODEPORTS, …) and its hairpin set members. `assemble` joins the base group and the
 * service groups into whole tables, so a caller can keep the groups of services that did not change and rebuild only
 * the others. See README.md.
 */
import { cidrWithin } from '../../model/ip.ts';
import type { IPFamily } from '../../model/types.ts';
import { masqueradeMarkOf, type DesiredState, type FamilySettings, type PlannedEndpoint, type ServicePlan, type TrafficVerdict } from '../../plan/types.ts';
import { normalizeCidrs } from '../nftables/addr.ts';
import { commentText, hostCidr, hostMask, type L4, type Match, type Rule, type TableName, type Target } from './model.ts';
import {
  CANARY,
  CLUSTER_IPS,
  endpointChain,
  EXTERNAL_SERVICES,
  externalChain,
  FIREWALL,
  firewallChain,
  FORWARD,
  hairpinSet,
  localChain,
  MARK_MASQ,
  MASQ_NONCLUSTER,
  NODEPORTS,
  POSTROUTING,
  SERVICES,
  serviceChain,
} from './names.ts';

export interface OwnChain<R> {
  readonly table: TableName;
  readonly name: string;
  readonly rules: readonly R[];
}

/** Rules a group adds to a chain it does not own (a fixed chain). */
export interface Contribution<R> {
  readonly table: TableName;
  readonly chain: string;
  readonly rules: readonly R[];
}

export interface RuleGroup<R> {
  readonly chains: readonly OwnChain<R>[];
  readonly contributions: readonly Contribution<R>[];
  /** Members of the family's hairpin set (`ip,proto:port,ip`) for the endpoints this group DNATs inline. */
  readonly hairpin?: readonly string[];
}

/** The fixed chains: their own rules come first, services' contributions next, then `tail`. */
export interface BaseGroup<R> extends RuleGroup<R> {
  readonly tail: readonly Contribution<R>[];
}

/** table → chain → rules, chains in a stable order. */
export type Tables<R> = Readonly<Record<TableName, ReadonlyMap<string, readonly R[]>>>;

const r = (matches: readonly Match[], target: Target): Rule => ({ matches, target });
const jump = (chain: string): Target => ({ t: 'jump', chain });
const ctNew: Match = { m: 'ctstate', states: ['NEW'] };
const dst = (cidr: string, neg = false): Match => ({ m: 'dst', neg, cidr: hostCidr(cidr) });
const src = (cidr: string, neg = false): Match => ({ m: 'src', neg, cidr: hostCidr(cidr) });
const portMatch = (proto: L4, port: number): Match[] => [{ m: 'proto', proto }, { m: 'dport', proto, port }];
const comment = (text: string): Match => ({ m: 'comment', text: commentText(text) });
const localType = (field: 'src' | 'dst'): Match => ({ m: 'addrtype', field, neg: false });

/**
 * "From a pod" under the local-traffic detector, as alternatives (any one matches): the input interface when one is
 * configured (`veth+` for a prefix), else one source match per cluster CIDR; none when neither is known.
 */
export const podSources = (settings: FamilySettings): Match[] =>
  settings.podInterface
    ? [{ m: 'inIface', neg: false, name: `${settings.podInterface.name}${settings.podInterface.prefix ? '+' : ''}` }]
    : normalizeCidrs(settings.clusterCIDRs).map((c) => src(c));

/** The negation of one podSources match ("not from a pod", when one match can say it). */
const notFrom = (m: Match): Match => (m.m === 'src' || m.m === 'inIface' ? { ...m, neg: !m.neg } : m);

/**
 * Marks traffic that `matches` for masquerading unless it is from a pod: one rule when a single match can say "not
 * from a pod", a jump to MASQ_NONCLUSTER when there are several alternatives, nothing when pods cannot be told.
 */
export const markUnlessFromPod = (pods: readonly Match[], matches: readonly Match[]): Rule[] =>
  pods.length === 1
    ? [r([notFrom(pods[0]!), ...matches], jump(MARK_MASQ))]
    : pods.length > 1
      ? [r(matches, jump(MASQ_NONCLUSTER))]
      : [];

/** MASQ_NONCLUSTER's rules, needed with several pod alternatives only: return for each, mark the rest. */
export const nonClusterRules = (pods: readonly Match[]): Rule[] | undefined =>
  pods.length > 1 ? [...pods.map((m) => r([m], { t: 'RETURN' })), r([], jump(MARK_MASQ))] : undefined;
const loopback = (family: IPFamily): string => (family === 4 ? '127.0.0.0/8' : '::1/128');
/** After DNAT: destination (ip, port) equals the source ip — a pod that reached itself through a service. */
const hairpin = (family: IPFamily): Match => ({ m: 'set', neg: false, name: hairpinSet(family), dirs: ['dst', 'dst', 'src'] });

/**
 * Jumps from the built-in chains into ours, in the order they should sit at the top of each built-in chain.
 * Installed idempotently (`-C`, then `-I`), never through iptables-restore.
 */
export const JUMP_RULES: readonly { readonly table: TableName; readonly chain: string; readonly rule: Rule }[] = [
  { table: 'filter', chain: 'INPUT', rule: r([ctNew, comment('switchyard-firewall')], jump(FIREWALL)) },
  { table: 'filter', chain: 'INPUT', rule: r([ctNew, comment('switchyard-external-services')], jump(EXTERNAL_SERVICES)) },
  { table: 'filter', chain: 'FORWARD', rule: r([comment('switchyard-forward')], jump(FORWARD)) },
  { table: 'filter', chain: 'FORWARD', rule: r([ctNew, comment('switchyard-firewall')], jump(FIREWALL)) },
  { table: 'filter', chain: 'FORWARD', rule: r([ctNew, comment('switchyard-services')], jump(SERVICES)) },
  { table: 'filter', chain: 'FORWARD', rule: r([ctNew, comment('switchyard-external-services')], jump(EXTERNAL_SERVICES)) },
  { table: 'filter', chain: 'FORWARD', rule: r([ctNew, comment('switchyard-cluster-ips')], jump(CLUSTER_IPS)) },
  { table: 'filter', chain: 'OUTPUT', rule: r([ctNew, comment('switchyard-firewall')], jump(FIREWALL)) },
  { table: 'filter', chain: 'OUTPUT', rule: r([ctNew, comment('switchyard-services')], jump(SERVICES)) },
  { table: 'filter', chain: 'OUTPUT', rule: r([ctNew, comment('switchyard-cluster-ips')], jump(CLUSTER_IPS)) },
  { table: 'nat', chain: 'PREROUTING', rule: r([comment('switchyard-services')], jump(SERVICES)) },
  { table: 'nat', chain: 'OUTPUT', rule: r([comment('switchyard-services')], jump(SERVICES)) },
  { table: 'nat', chain: 'POSTROUTING', rule: r([comment('switchyard-postrouting')], jump(POSTROUTING)) },
];

/** Whether NodePorts may answer on loopback: IPv4 only, and only with localhost NodePorts on (iptables mode). */
const loopbackServed = (family: IPFamily, s: FamilySettings): boolean => family === 4 && s.localhostNodePorts === true;

/**
 * How traffic addressed to a NodePort is recognised, one match list per alternative; empty = nowhere. Loopback is
 * left out unless `loopbackServed`: a /0 says so itself (`! -d 127.0.0.0/8`, as kube-proxy); a narrower CIDR around
 * loopback cannot take a second `-d`, so `nodePortJumps` puts a RETURN for loopback before it.
 */
export const nodePortDestinations = (family: IPFamily, s: FamilySettings): Match[][] => {
  const lo = loopback(family);
  const keepLoopback = loopbackServed(family, s);
  // CIDRs given: any local address inside them (kube-proxy's meaning, beyond the addresses the Node lists).
  if (s.nodePortCIDRs !== undefined && s.nodePortCIDRs.length > 0) {
    return normalizeCidrs(s.nodePortCIDRs).flatMap((c): Match[][] => {
      if (c.endsWith('/0')) return [keepLoopback ? [localType('dst')] : [dst(lo, true), localType('dst')]];
      if (!keepLoopback && cidrWithin(c, lo)) return [];
      return [[dst(c), localType('dst')]];
    });
  }
  if (s.nodePortAddresses.length > 0) return [...new Set(s.nodePortAddresses)].sort().map((ip) => [dst(ip)]);
  if (s.nodePortOnAllLocal) return [[dst(lo, true), localType('dst')]];
  return [];
};

/**
 * The rules that send NodePort traffic on (`to`), last in their chain: one per nodePortDestinations alternative,
 * after a RETURN for loopback when a CIDR wider than loopback (but not /0) would otherwise take it in.
 */
export const nodePortJumps = (family: IPFamily, s: FamilySettings, to: (matches: Match[]) => Rule): Rule[] => {
  const lo = loopback(family);
  const wideAroundLoopback = (s.nodePortCIDRs ?? []).some((c) => !c.endsWith('/0') && cidrWithin(lo, c) && !cidrWithin(c, lo));
  const returnLoopback = wideAroundLoopback && !loopbackServed(family, s) ? [r([dst(lo)], { t: 'RETURN' })] : [];
  const jumps = nodePortDestinations(family, s).map(to);
  return jumps.length > 0 ? [...returnLoopback, ...jumps] : [];
};

/**
 * kube-proxy's "block incoming localnet connections" (CVE-2020-8558), needed once route_localnet=1 lets packets
 * to 127.0.0.0/8 arrive from outside: drop what is not loopback-to-loopback unless it belongs to a connection that
 * exists already or was DNATed (a localhost NodePort).
 */
const localnetGuard = (family: IPFamily, s: FamilySettings): Rule[] =>
  loopbackServed(family, s)
    ? [r([src(loopback(family), true), dst(loopback(family)), { m: 'ctstate', neg: true, states: ['RELATED', 'ESTABLISHED', 'DNAT'] }, comment('block-incoming-localnet-connections')], { t: 'DROP' })]
    : [];

export const buildBase = (family: IPFamily, settings: FamilySettings): BaseGroup<Rule> => {
  const nonCluster = nonClusterRules(podSources(settings));
  const masqueradeMark = masqueradeMarkOf(settings);
  const own = (table: TableName, name: string, rules: Rule[] = []): OwnChain<Rule> => ({ table, name, rules });
  const chains: OwnChain<Rule>[] = [
    own('nat', SERVICES),
    own('nat', NODEPORTS),
    own('nat', POSTROUTING, [
      // Hairpin of inline-DNAT services: marked here, masqueraded below like every marked connection.
      r([hairpin(family)], jump(MARK_MASQ)),
      r([{ m: 'mark', neg: true, mark: masqueradeMark }], { t: 'RETURN' }),
      r([], { t: 'MARK', op: 'xor', mark: masqueradeMark }),
      r([], { t: 'MASQUERADE' }),
    ]),
    own('nat', MARK_MASQ, [r([], { t: 'MARK', op: 'or', mark: masqueradeMark })]),
    ...(nonCluster ? [own('nat', MASQ_NONCLUSTER, nonCluster)] : []),
    own('nat', CANARY),
    own('filter', SERVICES),
    own('filter', EXTERNAL_SERVICES),
    own('filter', NODEPORTS),
    own('filter', FIREWALL, localnetGuard(family, settings)),
    own('filter', FORWARD, [
      r([{ m: 'ctstate', states: ['INVALID'] }], { t: 'DROP' }),
      r([{ m: 'mark', neg: false, mark: masqueradeMark }], { t: 'ACCEPT' }),
      // Hairpin traffic of inline-DNAT services is accepted as the masquerade mark would have it accepted.
      r([hairpin(family)], { t: 'ACCEPT' }),
      r([{ m: 'ctstate', states: ['RELATED', 'ESTABLISHED'] }], { t: 'ACCEPT' }),
    ]),
    own('filter', CLUSTER_IPS),
    own('filter', CANARY),
    own('mangle', CANARY),
  ];
  // NodePort dispatch comes last so that an externalIP or LB IP equal to a node address wins.
  const tail: Contribution<Rule>[] = [
    { table: 'nat', chain: SERVICES, rules: nodePortJumps(family, settings, (m) => r([...m, comment('switchyard-nodeports')], jump(NODEPORTS))) },
    { table: 'filter', chain: EXTERNAL_SERVICES, rules: nodePortJumps(family, settings, (m) => r(m, jump(NODEPORTS))) },
  ];
  return { chains, contributions: [], tail };
};

const l4 = (p: ServicePlan): L4 => p.protocol.toLowerCase() as L4;

/** Which selection chains a service needs (same decisions as the nftables renderer). */
const selectionUse = (p: ServicePlan): { cluster: boolean; local: boolean; hasExternal: boolean; internal: 'cluster' | 'local' | undefined } => {
  const hasExternal = p.externalIPs.length > 0 || p.loadBalancerIPs.length > 0 || p.nodePort !== 0;
  const internal = p.internalVerdict === 'endpoints' ? (p.internalPolicyLocal ? 'local' : 'cluster') : undefined;
  const externalUses = hasExternal && p.externalVerdict === 'endpoints';
  return {
    cluster: p.clusterEndpoints.length > 0 && (internal === 'cluster' || externalUses),
    local: p.localEndpoints.length > 0 && (internal === 'local' || (externalUses && p.externalPolicyLocal)),
    hasExternal,
    internal,
  };
};

const uniqueEndpoints = (lists: readonly (readonly PlannedEndpoint[])[]): PlannedEndpoint[] => {
  const seen = new Map<string, PlannedEndpoint>();
  for (const l of lists) for (const e of l) if (!seen.has(`${e.ip}|${e.port}`)) seen.set(`${e.ip}|${e.port}`, e);
  return [...seen.values()];
};

const formatDnat = (e: PlannedEndpoint): string => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** kube-proxy's probabilities: rule i of n matches 1/(n-i) of what reaches it, so each endpoint gets 1/n. */
const probability = (remaining: number): string => (1 / remaining).toFixed(10);

const verdictTarget = (v: TrafficVerdict): Target => (v === 'drop' ? { t: 'DROP' } : { t: 'REJECT' });

/** A hairpin set member: the endpoint as destination (ip, proto:port) and as source. */
export const hairpinMember = (e: PlannedEndpoint, proto: L4): string => `${e.ip},${proto}:${e.port},${e.ip}`;

export const buildService = (p: ServicePlan, settings: FamilySettings, masqueradeAll: boolean): RuleGroup<Rule> => {
  const proto = l4(p);
  const use = selectionUse(p);
  const cmt = comment(`${p.namespace}/${p.name}:${p.portName}`);
  const mask = hostMask(p.family);
  const affinity = p.affinityTimeoutSeconds;
  const chains: OwnChain<Rule>[] = [];
  const contributions: Contribution<Rule>[] = [];
  const contribute = (table: TableName, chain: string, ...rules: Rule[]): void => {
    if (rules.length > 0) contributions.push({ table, chain, rules });
  };

  const svc = use.cluster ? serviceChain(p) : undefined;
  const svl = use.local ? localChain(p) : undefined;
  const sepOf = (e: PlannedEndpoint): string => endpointChain(p, e);

  // Without affinity, endpoints are DNATed inline in SVC/SVL and hairpin goes through the set: no chain per
  // endpoint (iptables-nft-restore's cost grows faster than linearly with the chains one input declares).
  const inline = affinity === undefined;
  const used = uniqueEndpoints([svc !== undefined ? p.clusterEndpoints : [], svl !== undefined ? p.localEndpoints : []]);
  // With affinity, one SEP chain per endpoint used: hairpin mark, then DNAT recording the client.
  for (const e of inline ? [] : used) {
    const name = sepOf(e);
    const set: Match[] = affinity !== undefined ? [{ m: 'recent', mode: 'set', name, mask }] : [];
    chains.push({
      table: 'nat',
      name,
      rules: [r([src(e.ip), cmt], jump(MARK_MASQ)), r([{ m: 'proto', proto }, cmt, ...set], { t: 'DNAT', to: formatDnat(e) })],
    });
  }

  const selection = (endpoints: readonly PlannedEndpoint[]): Rule[] => {
    const eps = uniqueEndpoints([endpoints]);
    if (inline) {
      return eps.map((e, i) =>
        r([{ m: 'proto', proto }, cmt, ...(i < eps.length - 1 ? [{ m: 'statistic', probability: probability(eps.length - i) } as const] : [])], { t: 'DNAT', to: formatDnat(e) }),
      );
    }
    const sticky = affinity === undefined ? [] : eps.map((e) => r([cmt, { m: 'recent', mode: 'rcheck', name: sepOf(e), mask, seconds: affinity }], jump(sepOf(e))));
    const spread = eps.map((e, i) =>
      r(i < eps.length - 1 ? [cmt, { m: 'statistic', probability: probability(eps.length - i) }] : [cmt], jump(sepOf(e))),
    );
    return [...sticky, ...spread];
  };

  // ClusterIP traffic not from a pod (or all of it) is masqueraded; the rule sits in the chain internal traffic
  // uses and matches the ClusterIP, so external traffic passing through is unaffected.
  const pods = podSources(settings);
  const cip = [dst(p.clusterIP), ...portMatch(proto, p.port)];
  const masqRule: Rule[] =
    p.clusterIP === '' ? [] : masqueradeAll ? [r([...cip, cmt], jump(MARK_MASQ))] : markUnlessFromPod(pods, [...cip, cmt]);
  if (svc !== undefined) chains.push({ table: 'nat', name: svc, rules: [...(use.internal === 'cluster' ? masqRule : []), ...selection(p.clusterEndpoints)] });
  if (svl !== undefined) chains.push({ table: 'nat', name: svl, rules: [...(use.internal === 'local' ? masqRule : []), ...selection(p.localEndpoints)] });

  // Internal (ClusterIP) traffic.
  if (p.clusterIP !== '') {
    const target = use.internal === 'local' ? svl : use.internal === 'cluster' ? svc : undefined;
    if (target !== undefined) contribute('nat', SERVICES, r([...cip, cmt], jump(target)));
    else contribute('filter', SERVICES, r([...cip, cmt], verdictTarget(p.internalVerdict === 'endpoints' ? 'reject' : p.internalVerdict)));
    contribute('filter', CLUSTER_IPS, r([dst(p.clusterIP)], { t: 'REJECT' }));
  }

  // External traffic: NodePort, externalIPs, load-balancer IPs.
  if (use.hasExternal) {
    const extRules: Rule[] = [];
    if (p.externalVerdict === 'endpoints') {
      if (!p.externalPolicyLocal) {
        if (svc !== undefined) extRules.push(r([cmt], jump(MARK_MASQ)), r([cmt], jump(svc)));
      } else if (svl !== undefined) {
        if (svc !== undefined) {
          // Pods reaching an external address are cluster traffic: any endpoint will do, client IP kept.
          for (const m of pods) extRules.push(r([m, cmt], jump(svc)));
          // The node itself has no client IP worth keeping: masquerade and use any endpoint.
          extRules.push(r([cmt, localType('src')], jump(MARK_MASQ)), r([cmt, localType('src')], jump(svc)));
        }
        extRules.push(r([cmt], jump(svl)));
      }
    }
    const ext = extRules.length > 0 ? externalChain(p) : undefined;
    const fallback = verdictTarget(p.externalVerdict === 'endpoints' ? 'reject' : p.externalVerdict);
    const extIPs = [...new Set(p.externalIPs)];
    const lbIPs = [...new Set(p.loadBalancerIPs)];
    if (ext !== undefined) {
      chains.push({ table: 'nat', name: ext, rules: extRules });
      const ranges = normalizeCidrs(p.loadBalancerSourceRanges);
      const fw = lbIPs.length > 0 && ranges.length > 0 ? firewallChain(p) : undefined;
      if (fw !== undefined) {
        // Allowed sources are DNATed here; the rest fall through and are dropped by filter FIREWALL.
        chains.push({ table: 'nat', name: fw, rules: ranges.map((c) => r([src(c), cmt], jump(ext))) });
        contribute('filter', FIREWALL, ...lbIPs.map((ip) => r([dst(ip), ...portMatch(proto, p.port), cmt], { t: 'DROP' })));
      }
      contribute(
        'nat',
        SERVICES,
        ...extIPs.filter((ip) => !lbIPs.includes(ip)).map((ip) => r([dst(ip), ...portMatch(proto, p.port), cmt], jump(ext))),
        ...lbIPs.map((ip) => r([dst(ip), ...portMatch(proto, p.port), cmt], jump(fw ?? ext))),
      );
      if (p.nodePort !== 0) contribute('nat', NODEPORTS, r([...portMatch(proto, p.nodePort), cmt], jump(ext)));
    } else {
      contribute('filter', EXTERNAL_SERVICES, ...[...new Set([...extIPs, ...lbIPs])].map((ip) => r([dst(ip), ...portMatch(proto, p.port), cmt], fallback)));
      if (p.nodePort !== 0) contribute('filter', NODEPORTS, r([...portMatch(proto, p.nodePort), cmt], fallback));
    }
  }
  if (p.healthCheckNodePort !== 0) {
    contribute('filter', NODEPORTS, r([...portMatch('tcp', p.healthCheckNodePort), comment(`${p.namespace}/${p.name}:health-check`)], { t: 'ACCEPT' }));
  }
  return inline ? { chains, contributions, hairpin: [...new Set(used.map((e) => hairpinMember(e, proto)))] } : { chains, contributions };
};

/**
 * Joins the base group and service groups into tables. Contributions to a fixed chain keep group order and drop
 * exact duplicates (two ports of one Service both rejecting their shared ClusterIP).
 */
export const assemble = <R>(base: BaseGroup<R>, services: Iterable<RuleGroup<R>>, key: (rule: R) => string): Tables<R> => {
  const tables: Record<TableName, Map<string, R[]>> = { filter: new Map(), nat: new Map(), mangle: new Map() };
  const seen = new Map<string, Set<string>>();
  const add = (table: TableName, chain: string, rules: readonly R[]): void => {
    const list = tables[table].get(chain);
    if (list === undefined) throw new Error(`contribution to unknown chain ${table}/${chain}`);
    const id = `${table}/${chain}`;
    let s = seen.get(id);
    if (s === undefined) seen.set(id, (s = new Set(list.map(key))));
    for (const rule of rules) {
      const k = key(rule);
      if (!s.has(k)) {
        s.add(k);
        list.push(rule);
      }
    }
  };
  for (const c of base.chains) tables[c.table].set(c.name, [...c.rules]);
  const groups = [...services];
  for (const g of groups) for (const c of g.contributions) add(c.table, c.chain, c.rules);
  for (const c of base.tail) add(c.table, c.chain, c.rules);
  for (const g of groups) for (const c of g.chains) tables[c.table].set(c.name, c.rules as R[]);
  return tables;
};

export const mapGroup = <A, B>(g: RuleGroup<A>, f: (a: A) => B): RuleGroup<B> => ({
  chains: g.chains.map((c) => ({ table: c.table, name: c.name, rules: c.rules.map(f) })),
  contributions: g.contributions.map((c) => ({ table: c.table, chain: c.chain, rules: c.rules.map(f) })),
  ...(g.hairpin !== undefined ? { hairpin: g.hairpin } : {}),
});

export const mapBase = <A, B>(g: BaseGroup<A>, f: (a: A) => B): BaseGroup<B> => ({
  ...mapGroup(g, f),
  tail: g.tail.map((c) => ({ table: c.table, chain: c.chain, rules: c.rules.map(f) })),
});

/** The family's hairpin set members (sorted, unique), for tracing and tests. */
export const buildHairpin = (state: DesiredState, family: IPFamily): string[] => {
  const settings = state.families[family];
  const members = state.services.filter((p) => p.family === family).flatMap((p) => buildService(p, settings, state.masqueradeAll).hairpin ?? []);
  return [...new Set(members)].sort();
};

/** Typed tables for one family (for tracing and tests). */
export const buildTables = (state: DesiredState, family: IPFamily): Tables<Rule> => {
  const settings = state.families[family];
  const groups = state.services.filter((p) => p.family === family).map((p) => buildService(p, settings, state.masqueradeAll));
  return assemble(buildBase(family, settings), groups, (x) => JSON.stringify(x));
};
