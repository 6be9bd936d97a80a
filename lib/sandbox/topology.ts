/**
 * Turns a SandboxSpec into the `ip -batch` lines and sysctls that build it. Pure: the Sandbox class runs them.
 *
 * Interfaces: the LAN namespace holds bridge `br0` with ports `lan<i>`; every host (node, outside) sees `eth0`.
 * A node holds bridge `cbr0` (pod gateway) with ports `vp<j>`; every pod sees `eth0`. In 'routed' mode there is no
 * cbr0: each `vp<j>` carries the gateway address itself and the node routes the pod's /32 (/128) to it.
 */
import { LAN_NAMESPACE, bareAddress, networkOf, prefixLength, type NodeSpec, type SandboxSpec } from './spec.ts';

export type PodNetworkMode = 'bridge' | 'routed';

export interface NamespaceRole {
  readonly logical: string;
  readonly netns: string;
  readonly kind: 'lan' | 'node' | 'pod' | 'outside';
}

export interface TopologyPlan {
  readonly namespaces: readonly NamespaceRole[];
  /** Run in the root namespace after the namespaces exist: creates every veth pair straight into its namespaces. */
  readonly rootLines: readonly string[];
  /** Per netns: addresses, bridges, routes. Independent of each other, so they run in parallel. */
  readonly namespaceLines: ReadonlyMap<string, readonly string[]>;
  /** Per netns: `key=value` sysctls; failures are warnings (some are read-only inside a netns). */
  readonly sysctls: ReadonlyMap<string, readonly string[]>;
}

export const netnsName = (prefix: string, logical: string): string => `${prefix}-${logical}`;

export const planTopology = (spec: SandboxSpec, prefix: string, mode: PodNetworkMode): TopologyPlan => {
  const ns = (logical: string) => netnsName(prefix, logical);
  const namespaces: NamespaceRole[] = [{ logical: LAN_NAMESPACE, netns: ns(LAN_NAMESPACE), kind: 'lan' }];
  const rootLines: string[] = [];
  const lines = new Map<string, string[]>();
  const sysctls = new Map<string, string[]>();
  const add = (netns: string, ...l: string[]) => {
    const list = lines.get(netns) ?? [];
    list.push(...l);
    lines.set(netns, list);
  };
  const lanNs = ns(LAN_NAMESPACE);
  add(lanNs, 'link set lo up', 'link add br0 type bridge forward_delay 0', 'link set br0 up');
  sysctls.set(lanNs, ['net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0']);

  const hosts: { name: string; lanIPv4: string; lanIPv6: string | undefined; kind: 'node' | 'outside' }[] = [
    ...spec.nodes.map((n) => ({ name: n.name, lanIPv4: n.lanIPv4, lanIPv6: n.lanIPv6, kind: 'node' as const })),
    ...(spec.outside ? [{ name: spec.outside.name, lanIPv4: spec.outside.lanIPv4, lanIPv6: spec.outside.lanIPv6, kind: 'outside' as const }] : []),
  ];
  hosts.forEach((host, i) => {
    const hostNs = ns(host.name);
    namespaces.push({ logical: host.name, netns: hostNs, kind: host.kind });
    rootLines.push(`link add lan${i} netns ${lanNs} type veth peer name eth0 netns ${hostNs}`);
    add(lanNs, `link set lan${i} master br0`, `link set lan${i} up`);
    add(hostNs, 'link set lo up', `addr add ${host.lanIPv4} dev eth0`);
    if (host.lanIPv6) add(hostNs, `addr add ${host.lanIPv6} dev eth0 nodad`);
    add(hostNs, 'link set eth0 up');
  });

  const nodes = new Map(spec.nodes.map((n) => [n.name, n]));
  for (const node of spec.nodes) {
    const nodeNs = ns(node.name);
    sysctls.set(nodeNs, [
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.conf.all.rp_filter=0',
      ...(mode === 'bridge' ? ['net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1'] : []),
    ]);
    if (mode === 'bridge') {
      add(nodeNs, 'link add cbr0 type bridge forward_delay 0', `addr add ${node.podGatewayIPv4} dev cbr0`);
      if (node.podGatewayIPv6) add(nodeNs, `addr add ${node.podGatewayIPv6} dev cbr0 nodad`);
      add(nodeNs, 'link set cbr0 up');
    }
    for (const other of spec.nodes) {
      if (other === node) continue;
      add(nodeNs, `route add ${networkOf(other.podGatewayIPv4)} via ${bareAddress(other.lanIPv4)}`);
      if (other.podGatewayIPv6 && other.lanIPv6 && node.lanIPv6) {
        add(nodeNs, `route add ${networkOf(other.podGatewayIPv6)} via ${bareAddress(other.lanIPv6)}`);
      }
    }
  }

  spec.pods.forEach((pod, j) => {
    const node = nodes.get(pod.node) as NodeSpec;
    const nodeNs = ns(node.name);
    const podNs = ns(pod.name);
    const port = `vp${j}`;
    namespaces.push({ logical: pod.name, netns: podNs, kind: 'pod' });
    rootLines.push(`link add ${port} netns ${nodeNs} type veth peer name eth0 netns ${podNs}`);
    add(podNs, 'link set lo up');
    if (mode === 'bridge') {
      add(nodeNs, `link set ${port} master cbr0`, `link set dev ${port} type bridge_slave hairpin on`, `link set ${port} up`);
      if (pod.ipv4) add(podNs, `addr add ${pod.ipv4}/${prefixLength(node.podGatewayIPv4)} dev eth0`);
      if (pod.ipv6 && node.podGatewayIPv6) add(podNs, `addr add ${pod.ipv6}/${prefixLength(node.podGatewayIPv6)} dev eth0 nodad`);
      add(podNs, 'link set eth0 up');
      if (pod.ipv4) add(podNs, `route add default via ${bareAddress(node.podGatewayIPv4)}`);
      if (pod.ipv6 && node.podGatewayIPv6) add(podNs, `route add ::/0 via ${bareAddress(node.podGatewayIPv6)}`);
    } else {
      add(nodeNs, `link set ${port} up`);
      if (pod.ipv4) {
        add(nodeNs, `addr add ${bareAddress(node.podGatewayIPv4)}/32 dev ${port}`, `route add ${pod.ipv4}/32 dev ${port}`);
      }
      if (pod.ipv6 && node.podGatewayIPv6) {
        add(nodeNs, `addr add ${bareAddress(node.podGatewayIPv6)}/128 dev ${port} nodad`, `route add ${pod.ipv6}/128 dev ${port}`);
      }
      if (pod.ipv4) add(podNs, `addr add ${pod.ipv4}/32 dev eth0`);
      if (pod.ipv6 && node.podGatewayIPv6) add(podNs, `addr add ${pod.ipv6}/128 dev eth0 nodad`);
      add(podNs, 'link set eth0 up');
      if (pod.ipv4) add(podNs, `route add default via ${bareAddress(node.podGatewayIPv4)} dev eth0 onlink`);
      if (pod.ipv6 && node.podGatewayIPv6) add(podNs, `route add ::/0 via ${bareAddress(node.podGatewayIPv6)} dev eth0 onlink`);
    }
  });

  if (spec.outside) {
    const outsideNs = ns(spec.outside.name);
    for (const route of spec.outside.routes) {
      const via = nodes.get(route.viaNode) as NodeSpec;
      const v6 = route.cidr.includes(':');
      const nextHop = v6 ? via.lanIPv6 : via.lanIPv4;
      if (nextHop) add(outsideNs, `route add ${route.cidr} via ${bareAddress(nextHop)}`);
    }
  }
  return { namespaces, rootLines, namespaceLines: lines, sysctls };
};
