/**
 * Packet tracer for the typed nftables ruleset: walks the base chains of each netfilter hook in priority order,
 * following jumps, gotos, verdict maps and numgen fan-out, and reports what happens to a connection's first packet.
 * It evaluates the rule form itself (maps, sets, chains) — not DesiredState. Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import { startPacket, traceVerdict, type TraceContext, type TracedPacket, type TracePacket, type TraceResult, type Tracer } from '../trace-types.ts';
import { addrMatches, sameAddr } from './addr.ts';
import { elementKeyParts, parseVerdict } from './render.ts';
import { flatten, type FlatTable } from './diff.ts';
import type { Action, BaseChainSpec, Chain, KeyField, Match, Rule, Ruleset, Verdict } from './model.ts';

type Pkt = TracedPacket;

type Outcome = { readonly kind: 'fall' | 'accept'; readonly pkt: Pkt } | { readonly kind: 'drop' | 'reject' };

const MAX_DEPTH = 64;

class Evaluator {
  private readonly t: FlatTable;
  private readonly ctx: TraceContext;

  constructor(t: FlatTable, ctx: TraceContext) {
    this.t = t;
    this.ctx = ctx;
  }

  private field(f: KeyField, p: Pkt): string {
    return f === 'daddr' ? p.dst : f === 'saddr' ? p.src : f === 'l4proto' ? p.proto : String(p.dport);
  }

  private keyMatches(key: readonly KeyField[], elemKey: readonly string[], p: Pkt): boolean {
    return key.length === elemKey.length && key.every((f, i) => {
      const v = this.field(f, p);
      return f === 'daddr' || f === 'saddr' ? addrMatches(v, elemKey[i]!) : v === elemKey[i];
    });
  }

  private lookup(set: string, key: readonly KeyField[], p: Pkt): Verdict | true | undefined {
    for (const e of this.t.elements.get(set)?.values() ?? []) {
      if (this.keyMatches(key, elementKeyParts(e.key), p)) return e.value === '' ? true : (parseVerdict(e.value) ?? true);
    }
    return undefined;
  }

  private matches(m: Match, p: Pkt): boolean {
    switch (m.m) {
      case 'addr': {
        const hit = m.values.some((v) => addrMatches(m.field === 'daddr' ? p.dst : p.src, v));
        return m.op === '==' ? hit : !hit;
      }
      case 'addrInSet': {
        const hit = this.lookup(m.set, [m.field], p) !== undefined;
        return m.op === '==' ? hit : !hit;
      }
      case 'keyInSet':
        return this.lookup(m.set, m.key, p) !== undefined;
      case 'fibLocal':
        return this.ctx.localAddresses.some((a) => sameAddr(a, m.field === 'daddr' ? p.dst : p.src));
      case 'iifname': {
        const hit = m.prefix ? p.inIface.startsWith(m.name) : p.inIface === m.name;
        return m.op === '==' ? hit : !hit;
      }
      case 'l4proto':
        return p.proto === m.proto;
      case 'ctState':
        return m.state === 'new'; // every traced packet opens a connection
      case 'ctStatusDnat':
        return p.dnat;
      case 'markUnset':
        return (p.mark & m.mask) === 0;
    }
  }

  chain(name: string, p: Pkt, depth: number): Outcome[] {
    const c = this.t.chains.get(name);
    if (c === undefined || depth > MAX_DEPTH) return [{ kind: 'drop' }];
    return this.rules(c, 0, p, depth);
  }

  private rules(c: Chain, from: number, p: Pkt, depth: number): Outcome[] {
    for (let i = from; i < c.rules.length; i++) {
      const r: Rule = c.rules[i]!;
      if (!r.matches.every((m) => this.matches(m, p))) continue;
      return this.actions(r.actions, 0, p, depth, (q) => this.rules(c, i + 1, q, depth));
    }
    return [{ kind: 'fall', pkt: p }];
  }

  private verdict(v: Verdict, p: Pkt, depth: number, next: (p: Pkt) => Outcome[]): Outcome[] {
    switch (v.v) {
      case 'accept':
        return [{ kind: 'accept', pkt: p }];
      case 'drop':
        return [{ kind: 'drop' }];
      case 'return':
        return [{ kind: 'fall', pkt: p }];
      case 'jump':
        return this.chain(v.chain, p, depth + 1).flatMap((o) => (o.kind === 'fall' ? next(o.pkt) : [o]));
      case 'goto':
        return this.chain(v.chain, p, depth + 1);
    }
  }

  private actions(as: readonly Action[], i: number, p: Pkt, depth: number, nextRule: (p: Pkt) => Outcome[]): Outcome[] {
    const a = as[i];
    if (a === undefined) return nextRule(p);
    const cont = (q: Pkt): Outcome[] => this.actions(as, i + 1, q, depth, nextRule);
    switch (a.a) {
      case 'verdict':
        return this.verdict(a.verdict, p, depth, nextRule);
      case 'vmap': {
        const v = this.lookup(a.map, a.key, p);
        return v === undefined || v === true ? cont(p) : this.verdict(v, p, depth, nextRule);
      }
      case 'numgenGoto':
        return a.chains.flatMap((c) => this.chain(c, p, depth + 1));
      case 'dnat':
        if (p.proto !== a.proto) return nextRule(p);
        return a.targets.map((t) => ({ kind: 'accept' as const, pkt: { ...p, dst: t.ip, dport: t.port, dnat: true } }));
      case 'dnatSlots': {
        if (p.proto !== a.proto) return nextRule(p);
        // numgen yields offset…offset+mod-1; a slot missing from the map makes the rule not match (the kernel's
        // lookup fails and evaluation goes on with the next rule).
        const slots = this.t.elements.get(a.map);
        const out: Outcome[] = [];
        let missing = false;
        for (let k = a.offset; k < a.offset + a.mod; k++) {
          const value = slots?.get(String(k))?.value;
          const d = value === undefined ? undefined : elementKeyParts(value);
          if (d === undefined) missing = true;
          else out.push({ kind: 'accept', pkt: { ...p, dst: d[0]!, dport: Number(d[1]), dnat: true } });
        }
        return missing ? [...out, ...nextRule(p)] : out;
      }
      case 'dnatShared': {
        if (p.proto !== a.proto) return nextRule(p);
        // Key `daddr . dport . index` (or `dport . index`) for index 0…mod-1; a missing element makes the rule not
        // match (as dnatSlots).
        const byIndex = new Map<string, string>();
        for (const e of this.t.elements.get(a.map)?.values() ?? []) {
          const parts = elementKeyParts(e.key);
          const [addr, port, index] = a.byAddress ? parts : [undefined, ...parts];
          if (port === String(p.dport) && (addr === undefined || sameAddr(addr, p.dst))) byIndex.set(index!, e.value);
        }
        const out: Outcome[] = [];
        let missing = false;
        for (let k = 0; k < a.mod; k++) {
          const value = byIndex.get(String(k));
          const d = value === undefined ? undefined : elementKeyParts(value);
          if (d === undefined) missing = true;
          else out.push({ kind: 'accept', pkt: { ...p, dst: d[0]!, dport: Number(d[1]), dnat: true } });
        }
        return missing ? [...out, ...nextRule(p)] : out;
      }
      case 'markOr':
        return cont({ ...p, mark: p.mark | a.mask });
      case 'markXor':
        return cont({ ...p, mark: p.mark ^ a.mask });
      case 'masquerade':
        return [{ kind: 'accept', pkt: { ...p, masq: true } }];
      case 'updateSaddr':
        return cont(p);
      case 'reject':
        if (a.tcpReset && p.proto !== 'tcp') return nextRule(p);
        return [{ kind: 'reject' }];
    }
  }

  /** Runs every base chain on `hook` in priority order. */
  hook(hook: BaseChainSpec['hook'], pkts: readonly Pkt[]): { live: Pkt[]; ended: ('drop' | 'reject')[] } {
    const chains = [...this.t.chains.values()]
      .filter((c) => c.base?.hook === hook)
      .sort((a, b) => a.base!.priority - b.base!.priority);
    let live = [...pkts];
    const ended: ('drop' | 'reject')[] = [];
    for (const c of chains) {
      const next: Pkt[] = [];
      for (const p of live) {
        for (const o of this.chain(c.name, p, 0)) {
          if (o.kind === 'drop' || o.kind === 'reject') ended.push(o.kind);
          else next.push((o as { pkt: Pkt }).pkt);
        }
      }
      live = next;
    }
    return { live, ended };
  }

  isLocal(ip: string): boolean {
    return this.ctx.localAddresses.some((a) => sameAddr(a, ip));
  }
}


export const traceNftables = (ruleset: Ruleset, ctx: TraceContext): Tracer => {
  const evaluators = new Map<IPFamily, Evaluator>(ruleset.families.map((f) => [f.family, new Evaluator(flatten(f), ctx)]));
  return (packet: TracePacket): TraceResult => {
    const ev = evaluators.get(packet.dst.includes(':') ? 6 : 4);
    if (ev === undefined) return { verdict: 'accept' };
    const start: Pkt = startPacket(packet);
    const ended: ('drop' | 'reject')[] = [];
    const run = (hook: BaseChainSpec['hook'], pkts: readonly Pkt[]): Pkt[] => {
      const r = ev.hook(hook, pkts);
      ended.push(...r.ended);
      return r.live;
    };
    let done: Pkt[];
    if (packet.from === 'node') {
      const out = run('postrouting', run('output', [start]));
      done = [...out.filter((p) => !ev.isLocal(p.dst)), ...run('input', out.filter((p) => ev.isLocal(p.dst)))];
    } else {
      const pre = run('prerouting', [start]);
      const local = run('input', pre.filter((p) => ev.isLocal(p.dst)));
      const fwd = run('postrouting', run('forward', pre.filter((p) => !ev.isLocal(p.dst))));
      done = [...local, ...fwd];
    }
    const verdict = traceVerdict(done, ended);
    if (verdict) return verdict;
    return { verdict: 'accept' };
  };
};
