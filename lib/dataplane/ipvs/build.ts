/**
 * DesiredState → IPVS mode objects for one family, kube-proxy's IPVS layout under our names: one virtual server
 * per frontend (ClusterIP, each externalIP and LB IP, the NodePort on each node address), real servers = the
 * endpoints the verdict and policy select, persistence for ClientIP affinity; ipsets + a few fixed iptables rules
 * for masquerading, hairpin (LOOP-BACK), LB source ranges and NodePort/Local policy; explicit filter rules for
 * reject/drop verdicts (kube-proxy's IPVS mode leaves those to the local stack). Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { masqueradeMarkOf, type DesiredState, type FamilySettings, type PlannedEndpoint, type ServicePlan, type TrafficVerdict } from '../../plan/types.ts';
import { addrMatches, normalizeCidrs, sameAddr } from '../nftables/addr.ts';
import { hostCidr, type L4, type Match, type Rule, type TableName, type Target } from '../iptables/model.ts';
import { markUnlessFromPod, nodePortJumps, nonClusterRules, podSources, type Tables } from '../iptables/rules.ts';
import { CANARY, MARK_MASQ, MASQ_NONCLUSTER, NODEPORTS, POSTROUTING, SERVICES } from '../iptables/names.ts';
import { DROP_MARK, vsKey, type IpsetDef, type IpsetType, type IpvsFamilyState, type VirtualServer } from './model.ts';

export const LOAD_BALANCER = 'SWITCHYARD-LOAD-BALANCER';
export const NODE_PORT = 'SWITCHYARD-NODE-PORT';
export const FIREWALL = 'SWITCHYARD-FIREWALL';
export const MARK_DROP = 'SWITCHYARD-MARK-DROP';

export interface IpvsBuildOptions {
  readonly scheduler: string;
  /** This node's addresses (for NodePorts on "all local addresses" or CIDRs); the dummy interface's are ignored. */
  readonly localAddresses: readonly string[];
}

/** ipset names (31 characters at most): SY4-… / SY6-…. */
export const setName = (family: IPFamily, base: string): string => `SY${family}-${base}`;
const PROTOS: readonly L4[] = ['tcp', 'udp', 'sctp'];

const r = (matches: readonly Match[], target: Target): Rule => ({ matches, target });
const jump = (chain: string): Target => ({ t: 'jump', chain });
const inSet = (name: string, ...dirs: ('src' | 'dst')[]): Match => ({ m: 'set', neg: false, name, dirs });
const l4 = (p: ServicePlan): L4 => p.protocol.toLowerCase() as L4;
const verdictTarget = (v: TrafficVerdict): Target => (v === 'drop' ? { t: 'DROP' } : { t: 'REJECT' });

/** Jumps from built-in chains for IPVS mode (same idempotent install as iptables mode). */
export const IPVS_JUMP_RULES: readonly { readonly table: TableName; readonly chain: string; readonly rule: Rule }[] = [
  { table: 'filter', chain: 'INPUT', rule: r([{ m: 'comment', text: 'switchyard-firewall' }], jump(FIREWALL)) },
  { table: 'filter', chain: 'INPUT', rule: r([{ m: 'ctstate', states: ['NEW'] }, { m: 'comment', text: 'switchyard-services' }], jump(SERVICES)) },
  { table: 'filter', chain: 'OUTPUT', rule: r([{ m: 'comment', text: 'switchyard-firewall' }], jump(FIREWALL)) },
  { table: 'filter', chain: 'OUTPUT', rule: r([{ m: 'ctstate', states: ['NEW'] }, { m: 'comment', text: 'switchyard-services' }], jump(SERVICES)) },
  { table: 'nat', chain: 'PREROUTING', rule: r([{ m: 'comment', text: 'switchyard-services' }], jump(SERVICES)) },
  { table: 'nat', chain: 'OUTPUT', rule: r([{ m: 'comment', text: 'switchyard-services' }], jump(SERVICES)) },
  { table: 'nat', chain: 'POSTROUTING', rule: r([{ m: 'comment', text: 'switchyard-postrouting' }], jump(POSTROUTING)) },
];

const reals = (eps: readonly PlannedEndpoint[]): VirtualServer['reals'] => {
  const seen = new Map<string, PlannedEndpoint>();
  for (const e of eps) seen.set(`${e.ip}|${e.port}`, e);
  return [...seen.values()].map((e) => ({ addr: e.ip, port: e.port, weight: 1 })).sort((a, b) => (`${a.addr}|${a.port}` < `${b.addr}|${b.port}` ? -1 : 1));
};

const loopback = (ip: string): boolean => addrMatches(ip, '127.0.0.0/8') || sameAddr(ip, '::1');

export const buildIpvs = (state: DesiredState, family: IPFamily, options: IpvsBuildOptions): IpvsFamilyState => {
  const settings: FamilySettings = state.families[family];
  const plans = state.services.filter((p) => p.family === family);
  const entries = new Map<string, Set<string>>();
  const types = new Map<string, IpsetType>();
  const set = (base: string, type: IpsetType): ((e: string) => void) => {
    const name = setName(family, base);
    types.set(name, type);
    if (!entries.has(name)) entries.set(name, new Set());
    return (e) => entries.get(name)!.add(e);
  };
  const clusterIP = set('CLUSTER-IP', 'hash:ip,port');
  const loopBack = set('LOOP-BACK', 'hash:ip,port,ip');
  const externalIP = set('EXTERNAL-IP', 'hash:ip,port');
  const externalIPLocal = set('EXTERNAL-IP-LOCAL', 'hash:ip,port');
  const lb = set('LOAD-BALANCER', 'hash:ip,port');
  const lbLocal = set('LOAD-BALANCER-LOCAL', 'hash:ip,port');
  const lbFW = set('LOAD-BALANCER-FW', 'hash:ip,port');
  const lbSource = set('LOAD-BALANCER-SOURCE-CIDR', 'hash:ip,port,net');
  const nodePort = new Map(PROTOS.map((p) => [p, set(`NODE-PORT-${p.toUpperCase()}`, 'bitmap:port')]));
  const nodePortLocal = new Map(PROTOS.map((p) => [p, set(`NODE-PORT-LOCAL-${p.toUpperCase()}`, 'bitmap:port')]));

  const vips = new Set<string>();
  for (const p of plans) {
    if (p.clusterIP !== '') vips.add(p.clusterIP);
    for (const ip of [...p.externalIPs, ...p.loadBalancerIPs]) vips.add(ip);
  }
  const isVip = (ip: string): boolean => [...vips].some((v) => sameAddr(v, ip));
  const familyLocal = options.localAddresses.filter((a) => a.includes(':') === (family === 6) && !loopback(a) && !isVip(a));
  const nodeAddrs =
    settings.nodePortCIDRs !== undefined && settings.nodePortCIDRs.length > 0
      ? familyLocal.filter((a) => settings.nodePortCIDRs!.some((c) => addrMatches(a, c)))
      : settings.nodePortAddresses.length > 0
        ? [...new Set(settings.nodePortAddresses)]
        : settings.nodePortOnAllLocal
          ? familyLocal
          : [];

  const servers = new Map<string, VirtualServer>();
  const filterServices: Rule[] = [];
  const filterNodePorts: Rule[] = [];
  const addVS = (addr: string, proto: L4, port: number, p: ServicePlan, eps: readonly PlannedEndpoint[]): void => {
    const v: VirtualServer = { addr, proto, port, scheduler: options.scheduler, persistence: p.affinityTimeoutSeconds, reals: reals(eps) };
    servers.set(vsKey(v), v);
    for (const e of v.reals) loopBack(`${e.addr},${proto}:${e.port},${e.addr}`);
  };
  for (const p of plans) {
    const proto = l4(p);
    const ipPort = (ip: string): string => `${ip},${proto}:${p.port}`;
    const match = (ip: string): Match[] => [{ m: 'dst', neg: false, cidr: hostCidr(ip) }, { m: 'proto', proto }, { m: 'dport', proto, port: p.port }];
    if (p.clusterIP !== '') {
      clusterIP(ipPort(p.clusterIP));
      if (p.internalVerdict === 'endpoints') addVS(p.clusterIP, proto, p.port, p, p.internalPolicyLocal ? p.localEndpoints : p.clusterEndpoints);
      else filterServices.push(r(match(p.clusterIP), verdictTarget(p.internalVerdict)));
    }
    const ext = p.externalVerdict === 'endpoints' ? (p.externalPolicyLocal ? p.localEndpoints : p.clusterEndpoints) : undefined;
    const local = p.externalPolicyLocal;
    for (const ip of new Set(p.externalIPs)) {
      (local ? externalIPLocal : externalIP)(ipPort(ip));
      if (ext !== undefined) addVS(ip, proto, p.port, p, ext);
      else filterServices.push(r(match(ip), verdictTarget(p.externalVerdict)));
    }
    const ranges = normalizeCidrs(p.loadBalancerSourceRanges);
    for (const ip of new Set(p.loadBalancerIPs)) {
      lb(ipPort(ip));
      if (local) lbLocal(ipPort(ip));
      if (ranges.length > 0) {
        lbFW(ipPort(ip));
        for (const c of ranges) lbSource(`${ip},${proto}:${p.port},${c}`);
      }
      if (ext !== undefined) addVS(ip, proto, p.port, p, ext);
      else filterServices.push(r(match(ip), verdictTarget(p.externalVerdict)));
    }
    if (p.nodePort !== 0) {
      (local ? nodePortLocal : nodePort).get(proto)!(String(p.nodePort));
      if (ext !== undefined) for (const a of nodeAddrs) addVS(a, proto, p.nodePort, p, ext);
      else filterNodePorts.push(r([{ m: 'proto', proto }, { m: 'dport', proto, port: p.nodePort }], verdictTarget(p.externalVerdict)));
    }
  }

  const pods = podSources(settings);
  const nonCluster = nonClusterRules(pods);
  const masqueradeMark = masqueradeMarkOf(settings);
  const cluster = inSet(setName(family, 'CLUSTER-IP'), 'dst', 'dst');
  const masq: Rule[] = state.masqueradeAll ? [r([cluster], jump(MARK_MASQ))] : markUnlessFromPod(pods, [cluster]);
  const nat = new Map<string, Rule[]>([
    [SERVICES, [
      ...masq,
      r([inSet(setName(family, 'LOAD-BALANCER'), 'dst', 'dst')], jump(LOAD_BALANCER)),
      r([inSet(setName(family, 'EXTERNAL-IP'), 'dst', 'dst')], jump(MARK_MASQ)),
      // IPVS mode has no localhost NodePorts (as kube-proxy's): the planner only asks for them in iptables mode.
      ...nodePortJumps(family, settings, (m) => r(m, jump(NODE_PORT))),
    ]],
    [NODE_PORT, PROTOS.flatMap((proto) => [
      r([{ m: 'proto', proto }, inSet(setName(family, `NODE-PORT-LOCAL-${proto.toUpperCase()}`), 'dst')], { t: 'RETURN' }),
      r([{ m: 'proto', proto }, inSet(setName(family, `NODE-PORT-${proto.toUpperCase()}`), 'dst')], jump(MARK_MASQ)),
    ])],
    [LOAD_BALANCER, [
      r([inSet(setName(family, 'LOAD-BALANCER-FW'), 'dst', 'dst')], jump(FIREWALL)),
      r([inSet(setName(family, 'LOAD-BALANCER-LOCAL'), 'dst', 'dst')], { t: 'RETURN' }),
      r([], jump(MARK_MASQ)),
    ]],
    [FIREWALL, [r([inSet(setName(family, 'LOAD-BALANCER-SOURCE-CIDR'), 'dst', 'dst', 'src')], { t: 'RETURN' }), r([], jump(MARK_DROP))]],
    [MARK_DROP, [r([], { t: 'MARK', op: 'or', mark: DROP_MARK })]],
    [MARK_MASQ, [r([], { t: 'MARK', op: 'or', mark: masqueradeMark })]],
    ...(nonCluster ? [[MASQ_NONCLUSTER, nonCluster] as [string, Rule[]]] : []),
    [POSTROUTING, [
      r([inSet(setName(family, 'LOOP-BACK'), 'dst', 'dst', 'src')], { t: 'MASQUERADE' }),
      r([{ m: 'mark', neg: true, mark: masqueradeMark }], { t: 'RETURN' }),
      r([], { t: 'MARK', op: 'xor', mark: masqueradeMark }),
      r([], { t: 'MASQUERADE' }),
    ]],
    [CANARY, []],
  ]);
  const filter = new Map<string, Rule[]>([
    [FIREWALL, [r([{ m: 'mark', neg: false, mark: DROP_MARK }], { t: 'DROP' })]],
    [SERVICES, [...filterServices, ...nodePortJumps(family, settings, (m) => r(m, jump(NODEPORTS)))]],
    [NODEPORTS, filterNodePorts],
    [CANARY, []],
  ]);
  const tables: Tables<Rule> = { nat, filter, mangle: new Map([[CANARY, []]]) };

  const sets: IpsetDef[] = [...entries].map(([name, es]) => ({ name, type: types.get(name)!, entries: [...es].sort() }));
  return {
    family,
    virtualServers: [...servers.values()].sort((a, b) => (vsKey(a) < vsKey(b) ? -1 : 1)),
    sets,
    addresses: [...vips].sort(),
    tables,
  };
};
