/**
 * DesiredState: what every dataplane must program, decided once here so nftables, iptables and IPVS behave
 * identically. Renderers translate it; they make no policy decisions of their own.
 */
import type { IPFamily, Protocol, ServicePortKey } from '../model/types.ts';

export interface PlannedEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly isLocal: boolean;
}

/**
 * What happens to traffic of one class (internal: to the ClusterIP; external: to NodePort, externalIPs and
 * load-balancer IPs) for one service port in one family.
 *  - 'endpoints': DNAT to one of `endpoints`
 *  - 'reject': the service has no usable endpoint anywhere: refuse at once (TCP reset / ICMP unreachable)
 *  - 'drop': a Local policy has no local endpoint while others exist elsewhere: silently drop, as kube-proxy does
 */
export type TrafficVerdict = 'endpoints' | 'reject' | 'drop';

export interface ServicePlan {
  /** `${family}/${servicePortKey}` — unique within a DesiredState. */
  readonly id: string;
  readonly servicePort: ServicePortKey;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly family: IPFamily;
  readonly protocol: Protocol;
  readonly clusterIP: string;
  readonly port: number;
  /** 0 when none. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  /** Only this family's ranges. Empty = any source may reach the load-balancer IPs. */
  readonly loadBalancerSourceRanges: readonly string[];
  readonly affinityTimeoutSeconds: number | undefined;
  readonly internalPolicyLocal: boolean;
  readonly externalPolicyLocal: boolean;
  /** Endpoints for traffic under the Cluster policy (after topology and terminating fallback). */
  readonly clusterEndpoints: readonly PlannedEndpoint[];
  /** This node's endpoints, used by a Local policy (ready ones, else serving-and-terminating ones). */
  readonly localEndpoints: readonly PlannedEndpoint[];
  readonly internalVerdict: TrafficVerdict;
  readonly externalVerdict: TrafficVerdict;
  /** 0 when none. */
  readonly healthCheckNodePort: number;
}

/** An input interface that marks traffic as coming from a pod (kube-proxy's BridgeInterface/InterfaceNamePrefix). */
export interface PodInterface {
  readonly name: string;
  /** `name` is a prefix: every interface whose name starts with it. */
  readonly prefix: boolean;
}

/** kube-proxy's default masquerade mark: bit 14. */
export const DEFAULT_MASQUERADE_MARK = 0x4000;

export const masqueradeMarkOf = (settings: Pick<FamilySettings, 'masqueradeMark'>): number =>
  settings.masqueradeMark ?? DEFAULT_MASQUERADE_MARK;

export interface FamilySettings {
  /**
   * Pod CIDRs of this family (from --cluster-cidr, else the Node's podCIDRs): source inside = cluster traffic.
   * Empty when `podInterface` decides instead.
   */
  readonly clusterCIDRs: readonly string[];
  /** Set when pod traffic is recognised by its input interface rather than by its source address. */
  readonly podInterface?: PodInterface;
  /** The packet mark bit that asks for masquerading (--iptables-masquerade-bit); unset = DEFAULT_MASQUERADE_MARK. */
  readonly masqueradeMark?: number;
  /**
   * Where NodePorts answer: concrete addresses of this node. Empty with `nodePortOnAllLocal` true means any
   * local address (kube-proxy's behaviour when --nodeport-addresses is unset and no primary IP is known).
   */
  readonly nodePortAddresses: readonly string[];
  readonly nodePortOnAllLocal: boolean;
  /**
   * Set when --nodeport-addresses was given as CIDRs: this family's CIDRs. The pure layer can only resolve them
   * against the Node's known addresses (that is `nodePortAddresses`); a dataplane able to match "destination is a
   * local address inside one of these CIDRs" (nftables `fib daddr type local`) should use this instead, which is
   * kube-proxy's exact meaning (it also covers interface addresses the Node object does not list).
   */
  readonly nodePortCIDRs?: readonly string[];
  /**
   * IPv4, iptables mode: NodePorts answer on loopback addresses inside `nodePortCIDRs` too (route_localnet is set),
   * and other traffic to 127.0.0.0/8 that was not DNATed is dropped (kube-proxy's "block incoming localnet
   * connections"). Unset: loopback destinations are never NodePorts.
   */
  readonly localhostNodePorts?: true;
}

export interface DesiredState {
  readonly nodeName: string;
  readonly masqueradeAll: boolean;
  readonly families: Readonly<Record<IPFamily, FamilySettings>>;
  /** Sorted by id. */
  readonly services: readonly ServicePlan[];
}
