/**
 * What a sandbox looks like: a LAN bridge, Kubernetes-like nodes with a pod bridge, pods, and an outside client.
 * Plain data; the defaults match examples/ (node IPs 192.168.50.10/.11, pod CIDRs 10.244.1.0/24, 10.244.2.0/24).
 */
import ipaddr from 'ipaddr.js';

export interface NodeSpec {
  /** Logical name, also the Kubernetes node name (matches EndpointSlice nodeName). */
  readonly name: string;
  /** LAN address with prefix length, e.g. 192.168.50.10/24. */
  readonly lanIPv4: string;
  readonly lanIPv6?: string;
  /** Pod gateway on cbr0 with the pod CIDR's prefix length, e.g. 10.244.1.1/24. */
  readonly podGatewayIPv4: string;
  readonly podGatewayIPv6?: string;
}

export interface PodSpec {
  /** Logical name of the pod's namespace (unique across the sandbox). */
  readonly name: string;
  /** The node it runs on. */
  readonly node: string;
  /** Bare addresses inside the node's pod CIDRs. */
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly tcpPorts?: readonly number[];
  readonly udpPorts?: readonly number[];
}

export interface OutsideSpec {
  readonly name: string;
  readonly lanIPv4: string;
  readonly lanIPv6?: string;
  /** Routes as an upstream router would have them: CIDR -> the node whose LAN IP is the next hop. */
  readonly routes: readonly { readonly cidr: string; readonly viaNode: string }[];
}

export interface SandboxSpec {
  /** Namespace name prefix; default `sy-<6 hex>`. Must match /^sy-[0-9a-f]{6}$/ so the stale sweep recognises it. */
  readonly prefix?: string;
  readonly nodes: readonly NodeSpec[];
  readonly pods: readonly PodSpec[];
  readonly outside?: OutsideSpec;
  /** 'bridge' needs br_netfilter; 'routed' uses /32 veth routes; 'auto' picks bridge when available. */
  readonly podNetwork?: 'auto' | 'bridge' | 'routed';
  /** Which logical namespaces run a traffic agent; default every pod, the outside host and every node. */
  readonly agents?: readonly string[];
}

export const PREFIX_PATTERN = /^sy-[0-9a-f]{6}$/;
export const LAN_NAMESPACE = 'lan';

export const DEFAULT_NODES: readonly NodeSpec[] = [
  { name: 'node-a', lanIPv4: '192.168.50.10/24', lanIPv6: 'fd00:50::10/64', podGatewayIPv4: '10.244.1.1/24', podGatewayIPv6: 'fd00:244:1::1/64' },
  { name: 'node-b', lanIPv4: '192.168.50.11/24', lanIPv6: 'fd00:50::11/64', podGatewayIPv4: '10.244.2.1/24', podGatewayIPv6: 'fd00:244:2::1/64' },
];

export const DEFAULT_OUTSIDE: OutsideSpec = {
  name: 'outside',
  lanIPv4: '192.168.50.100/24',
  lanIPv6: 'fd00:50::100/64',
  routes: [{ cidr: '192.168.60.0/24', viaNode: 'node-a' }],
};

/** The examples/ topology with the given pods. */
export const defaultSandboxSpec = (pods: readonly PodSpec[] = [], overrides: Partial<SandboxSpec> = {}): SandboxSpec => ({
  nodes: DEFAULT_NODES,
  outside: DEFAULT_OUTSIDE,
  pods,
  ...overrides,
});

/** `10.244.1.1/24` -> `10.244.1.1` */
export const bareAddress = (cidr: string): string => cidr.split('/')[0] ?? cidr;
export const prefixLength = (cidr: string): number => Number(cidr.split('/')[1]);

/** The network an interface address belongs to, e.g. `10.244.1.1/24` -> `10.244.1.0/24`. */
export const networkOf = (cidr: string): string => {
  const [address, length] = ipaddr.parseCIDR(cidr);
  const network = address.kind() === 'ipv6'
    ? ipaddr.IPv6.networkAddressFromCIDR(cidr)
    : ipaddr.IPv4.networkAddressFromCIDR(cidr);
  return `${network.toString()}/${length}`;
};

/** Whether a bare address lies inside a CIDR of the same family. */
export const cidrContains = (cidr: string, address: string): boolean => {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  const range = ipaddr.parseCIDR(cidr);
  return parsed.kind() === range[0].kind() && parsed.match(range);
};

/** Checks names and references; returns the list of problems (empty when the spec is usable). */
export const validateSpec = (spec: SandboxSpec): string[] => {
  const problems: string[] = [];
  if (spec.prefix !== undefined && !PREFIX_PATTERN.test(spec.prefix)) {
    problems.push(`prefix ${JSON.stringify(spec.prefix)} must match ${PREFIX_PATTERN}`);
  }
  const names = new Set<string>([LAN_NAMESPACE]);
  const claim = (name: string, what: string) => {
    if (!/^[a-z0-9][a-z0-9.-]{0,62}$/.test(name)) problems.push(`${what} name ${JSON.stringify(name)} is not a valid namespace name`);
    if (names.has(name)) problems.push(`${what} name ${JSON.stringify(name)} is used twice`);
    names.add(name);
  };
  const nodes = new Map(spec.nodes.map((n) => [n.name, n]));
  for (const node of spec.nodes) claim(node.name, 'node');
  if (spec.outside) {
    claim(spec.outside.name, 'outside');
    for (const r of spec.outside.routes) {
      if (!nodes.has(r.viaNode)) problems.push(`outside route ${r.cidr} via unknown node ${r.viaNode}`);
    }
  }
  for (const pod of spec.pods) {
    claim(pod.name, 'pod');
    const node = nodes.get(pod.node);
    if (!node) { problems.push(`pod ${pod.name} is on unknown node ${pod.node}`); continue; }
    if (!pod.ipv4 && !pod.ipv6) problems.push(`pod ${pod.name} has no address`);
    if (pod.ipv4 && !cidrContains(node.podGatewayIPv4, pod.ipv4)) {
      problems.push(`pod ${pod.name} address ${pod.ipv4} is outside ${node.name}'s pod CIDR ${networkOf(node.podGatewayIPv4)}`);
    }
    if (pod.ipv6 && (!node.podGatewayIPv6 || !cidrContains(node.podGatewayIPv6, pod.ipv6))) {
      problems.push(`pod ${pod.name} address ${pod.ipv6} is outside ${node.name}'s IPv6 pod CIDR`);
    }
  }
  for (const agent of spec.agents ?? []) {
    if (!names.has(agent) || agent === LAN_NAMESPACE) problems.push(`agent namespace ${agent} does not exist`);
  }
  return problems;
};
