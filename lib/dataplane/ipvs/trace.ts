/**
 * Packet tracer for IPVS mode: the helper iptables rules (evaluated by the iptables evaluator, with ipset lookups
 * over this state's sets) around the IPVS table: IPVS takes a packet addressed to a local address at LOCAL_IN
 * (after filter INPUT) or at LOCAL_OUT (after nat OUTPUT, before filter OUTPUT for the node's own traffic) and
 * DNATs it to a real server. A service address (bound to the dummy interface) with no virtual server for the port
 * is answered by the local stack with a reset / port unreachable: 'reject'. Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { startPacket, traceVerdict, type TraceContext, type TracePacket, type TraceResult, type Tracer } from '../trace-types.ts';
import { addrMatches, sameAddr } from '../nftables/addr.ts';
import type { Rule, TableName } from '../iptables/model.ts';
import { IptablesEvaluator, type Pkt, type SetLookup } from '../iptables/trace.ts';
import { IPVS_JUMP_RULES } from './build.ts';
import type { IpsetDef, IpvsFamilyState } from './model.ts';

const builtins = (table: TableName, chain: string): Rule[] => IPVS_JUMP_RULES.filter((j) => j.table === table && j.chain === chain).map((j) => j.rule);

const entryMatches = (s: IpsetDef, entry: string, dirs: readonly ('src' | 'dst')[], p: Pkt): boolean => {
  const field = (d: 'src' | 'dst'): string => (d === 'src' ? p.src : p.dst);
  if (s.type === 'bitmap:port') return entry === String(p.dport);
  const [ip, protoPort, third] = entry.split(',');
  if (ip === undefined || protoPort === undefined || dirs.length < 2) return false;
  if (!sameAddr(ip, field(dirs[0]!)) || protoPort !== `${p.proto}:${p.dport}`) return false;
  if (s.type === 'hash:ip,port') return true;
  if (third === undefined || dirs[2] === undefined) return false;
  return s.type === 'hash:ip,port,ip' ? sameAddr(third, field(dirs[2])) : addrMatches(field(dirs[2]), third);
};

export const ipsetLookup = (sets: readonly IpsetDef[]): SetLookup => {
  const byName = new Map(sets.map((s) => [s.name, s]));
  return (name, dirs, p) => {
    const s = byName.get(name);
    return s !== undefined && s.entries.some((e) => entryMatches(s, e, dirs, p));
  };
};

export const traceIpvs = (states: Readonly<Partial<Record<IPFamily, IpvsFamilyState>>>, ctx: TraceContext): Tracer => {
  return (packet: TracePacket): TraceResult => {
    const st = states[packet.dst.includes(':') ? 6 : 4];
    if (st === undefined) return { verdict: 'accept' };
    const ev = new IptablesEvaluator(st.tables, ctx, ipsetLookup(st.sets), builtins);
    const isVip = (ip: string): boolean => st.addresses.some((a) => sameAddr(a, ip));
    const isLocal = (ip: string): boolean => ev.isLocal(ip) || isVip(ip);
    const ended: ('drop' | 'reject')[] = [];
    const hook = (table: TableName, chain: string, pkts: readonly Pkt[]): Pkt[] => ev.hook(table, chain, pkts, ended);
    /** IPVS: DNAT to every real server of the matching virtual server; unmatched packets go on unchanged. */
    const ipvs = (pkts: readonly Pkt[]): Pkt[] =>
      pkts.flatMap((p) => {
        const v = st.virtualServers.find((s) => s.proto === p.proto && s.port === p.dport && sameAddr(s.addr, p.dst));
        if (v === undefined) return [p];
        if (v.reals.length === 0) {
          ended.push('reject');
          return [];
        }
        return v.reals.map((r) => ({ ...p, dst: r.addr, dport: r.port, dnat: true }));
      });
    const start: Pkt = startPacket(packet);
    let done: Pkt[];
    if (packet.from === 'node') {
      const out = hook('nat', 'POSTROUTING', hook('filter', 'OUTPUT', ipvs(hook('nat', 'OUTPUT', [start]))));
      done = [...out.filter((p) => p.dnat || !isLocal(p.dst)), ...hook('filter', 'INPUT', out.filter((p) => !p.dnat && isLocal(p.dst)))];
    } else {
      const pre = hook('nat', 'PREROUTING', [start]);
      const local = ipvs(hook('filter', 'INPUT', pre.filter((p) => isLocal(p.dst))));
      const forwarded = hook('filter', 'FORWARD', pre.filter((p) => !isLocal(p.dst)));
      done = [...hook('nat', 'POSTROUTING', local.filter((p) => p.dnat)), ...local.filter((p) => !p.dnat), ...hook('nat', 'POSTROUTING', forwarded)];
    }
    const verdict = traceVerdict(done, ended);
    if (verdict) return verdict;
    // Delivered locally to a service address nothing listens on.
    if (done.some((p) => isVip(p.dst))) return { verdict: 'reject' };
    return { verdict: 'accept' };
  };
};
