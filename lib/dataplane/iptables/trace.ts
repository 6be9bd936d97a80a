/**
 * Packet tracer for typed iptables tables: walks the built-in chains of each hook in netfilter order (nat before
 * filter on output; nat PREROUTING → routing → filter INPUT or FORWARD → nat POSTROUTING), following jumps, and
 * branches on `statistic` and `recent --rcheck` (either may or may not match) so every reachable endpoint shows.
 * It evaluates the rule form (typed tables, e.g. parsed back from the fake kernel) — not DesiredState. Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { startPacket, traceVerdict, type TraceContext, type TracedPacket, type TracePacket, type TraceResult, type Tracer } from '../trace-types.ts';
import { addrMatches, sameAddr } from '../nftables/addr.ts';
import type { Match, Rule, TableName } from './model.ts';
import { JUMP_RULES, type Tables } from './rules.ts';

export type Pkt = TracedPacket;

export type Outcome = { readonly kind: 'fall' | 'accept'; readonly pkt: Pkt } | { readonly kind: 'drop' | 'reject' };

const MAX_DEPTH = 64;

/** Built-in chains as switchyard installs them: only our jump rules (the system's own rules are not modelled). */
const builtinRules = (table: TableName, chain: string): Rule[] => JUMP_RULES.filter((j) => j.table === table && j.chain === chain).map((j) => j.rule);

/** Answers `-m set --match-set name dirs` for a packet (IPVS mode's ipsets); absent = no set matches. */
export type SetLookup = (name: string, dirs: readonly ('src' | 'dst')[], p: Pkt) => boolean;

/**
 * A SetLookup over `hash:ip,port,ip` members in ipset's syntax (`10.0.0.1,tcp:80,10.0.0.1`): `members(name)` gives a
 * set's members (undefined = no such set). Only destination ports are known to the tracer.
 */
export const ipPortIpLookup =
  (members: (name: string) => ReadonlySet<string> | undefined): SetLookup =>
  (name, dirs, p) => {
    const set = members(name);
    if (set === undefined || dirs.length !== 3 || dirs[1] !== 'dst') return false;
    const ip = (d: 'src' | 'dst'): string => (d === 'src' ? p.src : p.dst);
    return set.has(`${ip(dirs[0]!)},${p.proto}:${p.dport},${ip(dirs[2]!)}`);
  };

export class IptablesEvaluator {
  private readonly tables: Tables<Rule>;
  private readonly ctx: TraceContext;
  private readonly sets: SetLookup;
  private readonly builtins: (table: TableName, chain: string) => readonly Rule[];

  constructor(tables: Tables<Rule>, ctx: TraceContext, sets: SetLookup = () => false, builtins = builtinRules) {
    this.tables = tables;
    this.ctx = ctx;
    this.sets = sets;
    this.builtins = builtins;
  }

  isLocal(ip: string): boolean {
    return this.ctx.localAddresses.some((a) => sameAddr(a, ip));
  }

  /** Whether `m` matches: true, false, or 'maybe' (random or stateful matches: both branches are explored). */
  private matches(m: Match, p: Pkt): boolean | 'maybe' {
    switch (m.m) {
      case 'src':
        return addrMatches(p.src, m.cidr) !== m.neg;
      case 'dst':
        return addrMatches(p.dst, m.cidr) !== m.neg;
      case 'inIface':
        return (m.name.endsWith('+') ? p.inIface.startsWith(m.name.slice(0, -1)) : p.inIface === m.name) !== m.neg;
      case 'proto':
        return p.proto === m.proto;
      case 'dport':
        return p.proto === m.proto && p.dport === m.port;
      case 'addrtype':
        return this.isLocal(m.field === 'src' ? p.src : p.dst) !== m.neg;
      case 'ctstate':
        // Every traced packet opens a connection: NEW, and DNAT once a nat rule rewrote its destination.
        return m.states.some((s) => s === 'NEW' || (s === 'DNAT' && p.dnat)) !== (m.neg === true);
      case 'mark':
        return (((p.mark & m.mark) >>> 0) === m.mark >>> 0) !== m.neg;
      case 'statistic':
        return Number(m.probability) >= 1 ? true : 'maybe';
      case 'recent':
        return m.mode === 'set' ? true : 'maybe';
      case 'comment':
        return true;
      case 'set':
        return this.sets(m.name, m.dirs, p) !== m.neg;
    }
  }

  chain(table: TableName, name: string, p: Pkt, depth: number): Outcome[] {
    const rules = this.tables[table].get(name);
    if (rules === undefined || depth > MAX_DEPTH) return [{ kind: 'drop' }];
    return this.rules(table, rules, 0, p, depth);
  }

  private rules(table: TableName, rules: readonly Rule[], from: number, p: Pkt, depth: number): Outcome[] {
    for (let i = from; i < rules.length; i++) {
      const rule = rules[i]!;
      let maybe = false;
      let ok = true;
      for (const m of rule.matches) {
        const v = this.matches(m, p);
        if (v === false) {
          ok = false;
          break;
        }
        if (v === 'maybe') maybe = true;
      }
      if (!ok) continue;
      const next = (q: Pkt): Outcome[] => this.rules(table, rules, i + 1, q, depth);
      const taken = this.target(table, rule, p, depth, next);
      return maybe ? [...taken, ...next(p)] : taken;
    }
    return [{ kind: 'fall', pkt: p }];
  }

  private target(table: TableName, rule: Rule, p: Pkt, depth: number, next: (p: Pkt) => Outcome[]): Outcome[] {
    const t = rule.target;
    switch (t.t) {
      case 'jump':
        return this.chain(table, t.chain, p, depth + 1).flatMap((o) => (o.kind === 'fall' ? next(o.pkt) : [o]));
      case 'ACCEPT':
        return [{ kind: 'accept', pkt: p }];
      case 'DROP':
        return [{ kind: 'drop' }];
      case 'REJECT':
        return [{ kind: 'reject' }];
      case 'RETURN':
        return [{ kind: 'fall', pkt: p }];
      case 'DNAT': {
        const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(t.to);
        if (m === null) return [{ kind: 'drop' }];
        return [{ kind: 'accept', pkt: { ...p, dst: m[1]!, dport: Number(m[2]), dnat: true } }];
      }
      case 'MASQUERADE':
        return [{ kind: 'accept', pkt: { ...p, masq: true } }];
      case 'MARK':
        return next({ ...p, mark: t.op === 'or' ? p.mark | t.mark : p.mark ^ t.mark });
    }
  }

  /** Runs a built-in chain (our jumps in it) on every live packet. */
  hook(table: TableName, chain: string, pkts: readonly Pkt[], ended: ('drop' | 'reject')[]): Pkt[] {
    const live: Pkt[] = [];
    // A kernel dump (the fake's) carries the built-in chains; the builder's tables do not: use our jump rules.
    const rules = this.tables[table].get(chain) ?? this.builtins(table, chain);
    for (const p of pkts) {
      for (const o of this.rules(table, rules, 0, p, 0)) {
        if (o.kind === 'drop' || o.kind === 'reject') ended.push(o.kind);
        else live.push((o as { pkt: Pkt }).pkt);
      }
    }
    return live;
  }
}

export const traceIptables = (
  tables: Readonly<Partial<Record<IPFamily, Tables<Rule>>>>,
  ctx: TraceContext,
  sets: Readonly<Partial<Record<IPFamily, SetLookup>>> = {},
): Tracer => {
  const evaluators = new Map<IPFamily, IptablesEvaluator>();
  for (const f of [4, 6] as const) {
    const t = tables[f];
    if (t !== undefined) evaluators.set(f, new IptablesEvaluator(t, ctx, sets[f]));
  }
  return (packet: TracePacket): TraceResult => {
    const ev = evaluators.get(packet.dst.includes(':') ? 6 : 4);
    if (ev === undefined) return { verdict: 'accept' };
    const start: Pkt = startPacket(packet);
    const ended: ('drop' | 'reject')[] = [];
    const hook = (table: TableName, chain: string, pkts: readonly Pkt[]): Pkt[] => ev.hook(table, chain, pkts, ended);
    let done: Pkt[];
    if (packet.from === 'node') {
      const out = hook('nat', 'POSTROUTING', hook('filter', 'OUTPUT', hook('nat', 'OUTPUT', [start])));
      done = [...out.filter((p) => !ev.isLocal(p.dst)), ...hook('filter', 'INPUT', out.filter((p) => ev.isLocal(p.dst)))];
    } else {
      const pre = hook('nat', 'PREROUTING', [start]);
      const local = hook('filter', 'INPUT', pre.filter((p) => ev.isLocal(p.dst)));
      const fwd = hook('nat', 'POSTROUTING', hook('filter', 'FORWARD', pre.filter((p) => !ev.isLocal(p.dst))));
      done = [...local, ...fwd];
    }
    const verdict = traceVerdict(done, ended);
    if (verdict) return verdict;
    return { verdict: 'accept' };
  };
};
