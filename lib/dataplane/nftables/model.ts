/**
 * The typed nftables rule form: plain readonly data that renders to `nft -f` text (render.ts) and that the packet
 * tracer evaluates (trace.ts). Only the constructs switchyard uses are modelled.
 */
import type { IPFamily } from '../../model/types.ts';

export type L4 = 'tcp' | 'udp' | 'sctp';
export type AddrField = 'saddr' | 'daddr';
/** Parts of a map/set lookup key taken from the packet. */
export type KeyField = 'daddr' | 'saddr' | 'l4proto' | 'dport';
/**
 * Element types of a set key. 'slot' is an endpoint-slot number (the key of an endpoint map, declared with
 * `typeof numgen …` because nft 1.0.6 refuses a plain integer type against numgen).
 */
export type KeyType = 'addr' | 'proto' | 'port' | 'slot';

export type Verdict =
  | { readonly v: 'accept' | 'drop' | 'return' }
  | { readonly v: 'jump' | 'goto'; readonly chain: string };

export type Match =
  /** `ip daddr 10.0.0.1`, `ip saddr != { 10.0.0.0/8, … }` */
  | { readonly m: 'addr'; readonly field: AddrField; readonly op: '==' | '!='; readonly values: readonly string[] }
  /** `ip saddr != @cluster-cidrs` */
  | { readonly m: 'addrInSet'; readonly field: AddrField; readonly op: '==' | '!='; readonly set: string }
  /** `ip saddr . ip daddr @set` */
  | { readonly m: 'keyInSet'; readonly key: readonly KeyField[]; readonly set: string }
  /** `fib daddr type local` */
  | { readonly m: 'fibLocal'; readonly field: AddrField }
  /** `iifname "cbr0"`, `iifname != "veth*"` (prefix) */
  | { readonly m: 'iifname'; readonly op: '==' | '!='; readonly name: string; readonly prefix: boolean }
  | { readonly m: 'l4proto'; readonly proto: L4 }
  | { readonly m: 'ctState'; readonly state: 'new' | 'invalid' }
  | { readonly m: 'ctStatusDnat' }
  /** `meta mark & mask == 0` */
  | { readonly m: 'markUnset'; readonly mask: number };

export interface DnatTarget {
  readonly ip: string;
  readonly port: number;
}

export type Action =
  | { readonly a: 'verdict'; readonly verdict: Verdict }
  /** `ip daddr . meta l4proto . th dport vmap @map` */
  | { readonly a: 'vmap'; readonly key: readonly KeyField[]; readonly map: string }
  /** `numgen random mod N vmap { 0 : goto c0, … }` */
  | { readonly a: 'numgenGoto'; readonly chains: readonly string[] }
  /** `meta l4proto tcp dnat to ip:port` (one target) */
  | { readonly a: 'dnat'; readonly proto: L4; readonly targets: readonly [DnatTarget] }
  /**
   * `meta l4proto tcp dnat ip to numgen random mod N offset O map @endpoints-tcp-G`: picks slot O…O+N-1 of a shared
   * endpoint map (slot → address . port). A missing slot makes the rule not match.
   */
  | { readonly a: 'dnatSlots'; readonly proto: L4; readonly map: string; readonly mod: number; readonly offset: number }
  /**
   * `meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod N map @cluster-endpoints-tcp` (byAddress)
   * or `… dnat ip to tcp dport . numgen random mod N map @nodeport-endpoints-tcp`: the rule of a shared chain (see
   * shared.ts); the map holds `address . port . index` (or `port . index`) → `address . port` for every service
   * using shared chains. A missing element makes the rule not match.
   */
  | { readonly a: 'dnatShared'; readonly proto: L4; readonly map: string; readonly mod: number; readonly byAddress: boolean }
  | { readonly a: 'markOr' | 'markXor'; readonly mask: number }
  | { readonly a: 'masquerade' }
  /** `update @set { ip saddr timeout Ns }` */
  | { readonly a: 'updateSaddr'; readonly set: string; readonly timeoutSeconds: number }
  /** `reject with tcp reset` (tcp only) or `reject` (ICMP/ICMPv6 port unreachable) */
  | { readonly a: 'reject'; readonly tcpReset: boolean };

export interface Rule {
  readonly matches: readonly Match[];
  readonly actions: readonly Action[];
}

export interface BaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  readonly priority: number;
}

export interface Chain {
  readonly name: string;
  readonly base?: BaseChainSpec;
  readonly rules: readonly Rule[];
}

export interface SetDef {
  readonly name: string;
  readonly kind: 'set' | 'map';
  readonly key: readonly KeyType[];
  readonly flags: readonly ('interval' | 'dynamic' | 'timeout')[];
  /**
   * Endpoint maps (slot → address . port of this protocol, DNAT targets; key ['slot'], or ['addr', 'port', 'slot'] /
   * ['port', 'slot'] for the maps of shared chains, see shared.ts); other maps hold verdicts.
   */
  readonly endpointProto?: L4;
}

/**
 * One set/map element, kept as the nft text it renders to: at 10k services there are hundreds of thousands of them,
 * and one small object with two strings (often shared) is what keeps memory flat (see README "Memory").
 */
export interface Element {
  /** Key parts joined by ' . ' as nft writes them: `10.96.0.1 . tcp . 80`, `3` (an endpoint slot). */
  readonly key: string;
  /** Map value: a verdict (`goto service-…`, `drop`) or, in endpoint maps, `address . port`; '' in plain sets. */
  readonly value: string;
}

/** An element a group adds to a set. */
export interface ElementRef extends Element {
  readonly set: string;
  /** The group's owner: its service's plan id, or '' for the fixed part (see index.ts: claims by owner). */
  readonly owner: string;
}

/** A unit of ownership: the fixed part of a table, or everything one service port contributes. */
export interface ObjectGroup {
  readonly chains: readonly Chain[];
  readonly sets: readonly SetDef[];
  /** Elements this group adds to sets (its own or shared ones). */
  readonly elements: readonly ElementRef[];
  /** The shared chains (`cluster-tcp-3`…, part of the fixed group, see shared.ts) this service port's elements point at. */
  readonly sharedChains?: readonly string[];
}

/**
 * Where one endpoint selection (a service's cluster or local endpoints) lives in the shared endpoint maps:
 * slots offset…offset+endpoints.length-1 of map `endpoints-<proto>-<n>`, with room up to offset+capacity.
 */
export interface SlotRange {
  readonly map: string;
  readonly offset: number;
  /** A power of two; the range is aligned to it. */
  readonly capacity: number;
  /** Endpoint keys in slot order (`address . port`, the endpoint-map value text): kept in place across syncs so a change touches few elements. */
  readonly endpoints: readonly string[];
}

/** How full one endpoint map is. Shared between snapshots: copied before any change (see slots.ts). */
export interface MapUsage {
  /** 1 per slot taken by some range. */
  readonly used: Uint8Array;
  readonly selections: number;
}

/** The endpoint-slot allocation of one family: ranges by selection key, usage by map name. */
export interface SlotTable {
  readonly ranges: ReadonlyMap<string, SlotRange>;
  readonly usage: ReadonlyMap<string, MapUsage>;
}

export interface FamilyRuleset {
  readonly family: IPFamily;
  readonly base: ObjectGroup;
  /** By ServicePlan id. */
  readonly services: ReadonlyMap<string, ObjectGroup>;
  /** Slot ranges by selection key (`<plan id>|cluster` / `<plan id>|local`), threaded from one build to the next. */
  readonly slots: SlotTable;
  /** Shared chains in use (`cluster-tcp-3`…) → how many service ports point at each; threaded like `slots`. */
  readonly shared: ReadonlyMap<string, number>;
}

export interface Ruleset {
  readonly families: readonly FamilyRuleset[];
}

export const TABLE_NAME = 'switchyard';
export const tableFamily = (family: IPFamily): 'ip' | 'ip6' => (family === 4 ? 'ip' : 'ip6');
