/**
 * Shared chains for plain ClusterIP services (no external frontends, Cluster internal policy, no affinity): instead
 * of one `service-…` chain per service port, one chain per (protocol, endpoint count N) in use,
 *   cluster-tcp-3 { meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @cluster-endpoints-tcp }
 * reached from `service-ips` (`10.96.0.10 . tcp . 80 : goto cluster-tcp-3`), with the service's endpoints as
 * elements `10.96.0.10 . 80 . i : address . port` of the per-protocol map. An endpoint change edits elements only
 * (and the service-ips element when N changes): nft 1.0.6 loads every chain before any command, so fewer chains is
 * what makes one change cheap at 10k services (see README "Scale"). Pure.
 */
import type { L4 } from './model.ts';
import { CLUSTER_ENDPOINTS_PREFIX } from './slots.ts';

const SHARED_PREFIX = 'cluster-';

export const sharedChainName = (proto: L4, n: number): string => `${SHARED_PREFIX}${proto}-${n}`;
export const clusterEndpointsMapName = (proto: L4): string => `${CLUSTER_ENDPOINTS_PREFIX}${proto}`;

/** Protocol and endpoint count of a shared chain name. */
export const parseSharedChain = (name: string): { readonly proto: L4; readonly n: number } => {
  const [proto, n] = name.slice(SHARED_PREFIX.length).split('-');
  return { proto: proto as L4, n: Number(n) };
};

const PROTO_ORDER: readonly L4[] = ['tcp', 'udp', 'sctp'];

/** Shared chain names in a stable order: by protocol, then endpoint count. */
export const sortSharedChains = (names: Iterable<string>): string[] =>
  [...names].sort((a, b) => {
    const x = parseSharedChain(a);
    const y = parseSharedChain(b);
    return PROTO_ORDER.indexOf(x.proto) - PROTO_ORDER.indexOf(y.proto) || x.n - y.n;
  });

/** Usage counts carried from one build to the next: a copy (a few dozen entries at most) updated in place. */
export class SharedChainCounts {
  private readonly counts: Map<string, number>;

  constructor(previous: ReadonlyMap<string, number> | undefined) {
    this.counts = new Map(previous);
  }

  get result(): ReadonlyMap<string, number> {
    return this.counts;
  }

  add(chain: string | undefined, delta: 1 | -1): void {
    if (chain === undefined) return;
    const n = (this.counts.get(chain) ?? 0) + delta;
    if (n > 0) this.counts.set(chain, n);
    else this.counts.delete(chain);
  }

  /** Chains in use, ordered, and the protocols whose endpoint map they need. */
  inUse(): { readonly chains: string[]; readonly protos: L4[] } {
    const chains = sortSharedChains(this.counts.keys());
    const protos = PROTO_ORDER.filter((p) => chains.some((c) => parseSharedChain(c).proto === p));
    return { chains, protos };
  }
}
