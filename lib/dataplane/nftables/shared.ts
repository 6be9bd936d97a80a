/**
 * Shared chains for services on Cluster policies without affinity: instead of `service-…` (and `external-…`)
 * chains per service port, one chain per (kind, protocol, endpoint count N) in use, e.g.
 *   cluster-tcp-3  { meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @cluster-endpoints-tcp }
 *   external-tcp-3 { jump mark-for-masquerade ; …the same… }                      (externalIPs, load-balancer IPs)
 *   nodeport-tcp-3 { jump mark-for-masquerade ; meta l4proto tcp dnat ip to tcp dport . numgen random mod 3 map @nodeport-endpoints-tcp }
 * reached from `service-ips` / `service-nodeports` (`10.96.0.10 . tcp . 80 : goto cluster-tcp-3`), with the
 * service's endpoints as elements `address . port . i : endpoint` (`nodePort . i : endpoint`) of per-protocol maps.
 * An endpoint change edits elements only (and the verdict-map elements when N changes): nft 1.0.6 loads every
 * chain before any command, so fewer chains is what makes one change cheap at 10k services (README "Scale").
 * These map elements are claimed like `service-ips` ones (first owner by id wins a key), so two services given the
 * same address and port stay consistent with the verdict element, as before. Pure.
 */
import type { L4 } from './model.ts';

export type SharedKind = 'cluster' | 'external' | 'nodeport';

const KIND_ORDER: readonly SharedKind[] = ['cluster', 'external', 'nodeport'];
const PROTO_ORDER: readonly L4[] = ['tcp', 'udp', 'sctp'];

export const sharedChainName = (kind: SharedKind, proto: L4, n: number): string => `${kind}-${proto}-${n}`;
/** `address . port . index → endpoint` (ClusterIPs, externalIPs, load-balancer IPs). */
export const clusterEndpointsMapName = (proto: L4): string => `cluster-endpoints-${proto}`;
/** `nodePort . index → endpoint`. */
export const nodePortEndpointsMapName = (proto: L4): string => `nodeport-endpoints-${proto}`;

/** Kind, protocol and endpoint count of a shared chain name. */
export const parseSharedChain = (name: string): { readonly kind: SharedKind; readonly proto: L4; readonly n: number } => {
  const [kind, proto, n] = name.split('-');
  return { kind: kind as SharedKind, proto: proto as L4, n: Number(n) };
};

/** The map a shared chain reads. */
export const sharedMapOf = (kind: SharedKind, proto: L4): string =>
  kind === 'nodeport' ? nodePortEndpointsMapName(proto) : clusterEndpointsMapName(proto);

/** Shared chain names in a stable order: by kind, protocol, then endpoint count. */
export const sortSharedChains = (names: Iterable<string>): string[] =>
  [...names].sort((a, b) => {
    const x = parseSharedChain(a);
    const y = parseSharedChain(b);
    return KIND_ORDER.indexOf(x.kind) - KIND_ORDER.indexOf(y.kind) || PROTO_ORDER.indexOf(x.proto) - PROTO_ORDER.indexOf(y.proto) || x.n - y.n;
  });

export interface SharedInUse {
  readonly chains: readonly string[];
  /** Maps the chains read: name, key kind (by address and port, or by port) and protocol. */
  readonly maps: readonly { readonly name: string; readonly byAddress: boolean; readonly proto: L4 }[];
}

/** Usage counts carried from one build to the next: a copy (a few dozen entries at most) updated in place. */
export class SharedChainCounts {
  private readonly counts: Map<string, number>;

  constructor(previous: ReadonlyMap<string, number> | undefined) {
    this.counts = new Map(previous);
  }

  get result(): ReadonlyMap<string, number> {
    return this.counts;
  }

  add(chains: readonly string[] | undefined, delta: 1 | -1): void {
    for (const chain of chains ?? []) {
      const n = (this.counts.get(chain) ?? 0) + delta;
      if (n > 0) this.counts.set(chain, n);
      else this.counts.delete(chain);
    }
  }

  inUse(): SharedInUse {
    const chains = sortSharedChains(this.counts.keys());
    const maps = new Map<string, { name: string; byAddress: boolean; proto: L4 }>();
    for (const byAddress of [true, false]) {
      for (const proto of PROTO_ORDER) {
        for (const c of chains) {
          const s = parseSharedChain(c);
          if (s.proto !== proto || (s.kind !== 'nodeport') !== byAddress) continue;
          const name = sharedMapOf(s.kind, proto);
          maps.set(name, { name, byAddress, proto });
        }
      }
    }
    return { chains, maps: [...maps.values()] };
  }
}
