/**
 * Derives a sandbox from Kubernetes objects (e.g. examples/): every EndpointSlice endpoint on a sandbox node
 * becomes a pod namespace on that node, listening on the slice's ports. Pure: reads plain objects, does no I/O.
 * Nodes come from Node objects (InternalIP + podCIDRs) when the manifests have them, else from the defaults.
 */
import ipaddr from 'ipaddr.js';
import type { KubeObject } from '../source/types.ts';
import {
  DEFAULT_NODES, DEFAULT_OUTSIDE, LAN_NAMESPACE, cidrContains,
  type NodeSpec, type OutsideSpec, type PodSpec, type SandboxSpec,
} from './spec.ts';

export interface ManifestSandboxOptions {
  /** Override the nodes (default: from Node objects, else node-a/node-b of examples/). */
  readonly nodes?: readonly NodeSpec[];
  readonly outside?: OutsideSpec;
  /** Prefix lengths of the LAN when nodes are derived from Node objects. */
  readonly lanPrefixV4?: number;
  readonly lanPrefixV6?: number;
  readonly prefix?: string;
}

export interface ManifestSandbox {
  readonly spec: SandboxSpec;
  /** Endpoints and objects that did not become part of the sandbox, with why. */
  readonly skipped: readonly string[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** First usable host of a CIDR with its prefix length: 10.244.1.0/24 -> 10.244.1.1/24. */
const gatewayOf = (cidr: string): string | undefined => {
  try {
    const [addr, len] = ipaddr.parseCIDR(cidr);
    const bytes = (addr.kind() === 'ipv6' ? ipaddr.IPv6.networkAddressFromCIDR(cidr) : ipaddr.IPv4.networkAddressFromCIDR(cidr)).toByteArray();
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) + 1;
    return `${ipaddr.fromByteArray(bytes).toString()}/${len}`;
  } catch {
    return undefined;
  }
};

const nodesFromObjects = (objects: readonly KubeObject[], v4Len: number, v6Len: number, skipped: string[]): NodeSpec[] => {
  const nodes: NodeSpec[] = [];
  for (const o of objects) {
    if (o.kind !== 'Node') continue;
    const name = o.metadata.name;
    const internal = arr(obj(o.status).addresses).map(obj).filter((a) => a.type === 'InternalIP').map((a) => str(a.address)).filter((a): a is string => !!a && ipaddr.isValid(a));
    const spec = obj(o.spec);
    const cidrs = [...arr(spec.podCIDRs), spec.podCIDR].map(str).filter((c): c is string => !!c);
    const v4 = internal.find((a) => !a.includes(':'));
    const v6 = internal.find((a) => a.includes(':'));
    const gw4 = cidrs.filter((c) => !c.includes(':')).map(gatewayOf).find(Boolean);
    const gw6 = cidrs.filter((c) => c.includes(':')).map(gatewayOf).find(Boolean);
    if (!v4 || !gw4) { skipped.push(`Node ${name}: needs an IPv4 InternalIP and an IPv4 podCIDR to become a sandbox node`); continue; }
    // A node with an IPv6 pod CIDR but no IPv6 InternalIP still needs an IPv6 LAN address for cross-node routes:
    // take the default topology's one for a node of that name (examples/ lists only IPv4 InternalIPs).
    const lanIPv6 = v6 ? `${v6}/${v6Len}` : DEFAULT_NODES.find((d) => d.name === name)?.lanIPv6;
    nodes.push({
      name, lanIPv4: `${v4}/${v4Len}`, podGatewayIPv4: gw4,
      ...(lanIPv6 && gw6 ? { lanIPv6, podGatewayIPv6: gw6 } : {}),
    });
  }
  return nodes;
};

/** Lowercase, namespace-name-safe, not clashing with anything already taken. */
const uniqueName = (wanted: string, taken: Set<string>): string => {
  const base = wanted.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 40) || 'pod';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
};

interface PodDraft { name: string; node: string; ipv4?: string; ipv6?: string; tcp: Set<number>; udp: Set<number> }

export const sandboxSpecFromManifests = (objects: readonly KubeObject[], options: ManifestSandboxOptions = {}): ManifestSandbox => {
  const skipped: string[] = [];
  const derived = options.nodes ? [] : nodesFromObjects(objects, options.lanPrefixV4 ?? 24, options.lanPrefixV6 ?? 64, skipped);
  const nodes = options.nodes ?? (derived.length > 0 ? derived : DEFAULT_NODES);
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));
  const taken = new Set<string>([LAN_NAMESPACE, ...nodes.map((n) => n.name), (options.outside ?? DEFAULT_OUTSIDE).name]);
  const pods = new Map<string, PodDraft>();

  for (const slice of objects) {
    if (slice.kind !== 'EndpointSlice') continue;
    const where = `EndpointSlice ${slice.metadata.namespace ?? 'default'}/${slice.metadata.name}`;
    const addressType = str((slice as Json).addressType) ?? 'IPv4';
    if (addressType !== 'IPv4' && addressType !== 'IPv6') { skipped.push(`${where}: addressType ${addressType} has no pods`); continue; }
    const ports = arr((slice as Json).ports).map(obj);
    for (const endpoint of arr((slice as Json).endpoints).map(obj)) {
      const address = str(arr(endpoint.addresses)[0]);
      const nodeName = str(endpoint.nodeName);
      if (!address || !ipaddr.isValid(address)) { skipped.push(`${where}: endpoint without a valid address`); continue; }
      const node = nodeName ? nodeByName.get(nodeName) : undefined;
      if (!node) { skipped.push(`${where}: ${address} is on node ${nodeName ?? '(none)'}, not a sandbox node`); continue; }
      const v6 = address.includes(':');
      const gateway = v6 ? node.podGatewayIPv6 : node.podGatewayIPv4;
      if (!gateway || !cidrContains(gateway, address)) {
        skipped.push(`${where}: ${address} is outside ${node.name}'s pod CIDR`);
        continue;
      }
      const ref = obj(endpoint.targetRef);
      const refName = ref.kind === 'Pod' ? str(ref.name) : undefined;
      // The same address is the same pod (several Services may select it); so is the same Pod object, which is
      // how a dual-stack pod's IPv4 and IPv6 slices meet.
      const refKey = refName ? `pod:${str(ref.namespace) ?? slice.metadata.namespace ?? 'default'}/${refName}` : undefined;
      let pod = pods.get(`ip:${address}`) ?? (refKey ? pods.get(refKey) : undefined);
      if (!pod) {
        const service = slice.metadata.labels?.['kubernetes.io/service-name'] ?? slice.metadata.name;
        const fallback = `${service}-${address.split(/[.:]/).filter(Boolean).at(-1) ?? 'ep'}`;
        pod = { name: uniqueName(refName ?? str(endpoint.hostname) ?? fallback, taken), node: node.name, tcp: new Set(), udp: new Set() };
      }
      pods.set(`ip:${address}`, pod);
      if (refKey && !pods.has(refKey)) pods.set(refKey, pod);
      if (pod.node !== node.name) { skipped.push(`${where}: ${address} says node ${node.name} but its pod is on ${pod.node}`); continue; }
      const existing = v6 ? pod.ipv6 : pod.ipv4;
      if (existing && existing !== address) { skipped.push(`${where}: pod ${pod.name} already has address ${existing}, ignoring ${address}`); continue; }
      if (v6) pod.ipv6 = address; else pod.ipv4 = address;
      for (const port of ports) {
        const number = typeof port.port === 'number' ? port.port : undefined;
        const protocol = str(port.protocol) ?? 'TCP';
        if (!number) continue;
        if (protocol === 'TCP') pod.tcp.add(number);
        else if (protocol === 'UDP') pod.udp.add(number);
        else skipped.push(`${where}: ${protocol} port ${number} is not served by the echo server`);
      }
    }
  }

  // Two Pods claiming one address (through their references) would collide in the kernel.
  const seen = new Map<string, string>();
  const podSpecs: PodSpec[] = [];
  for (const pod of new Set(pods.values())) {
    const clash = [pod.ipv4, pod.ipv6].map((a) => (a ? seen.get(a) : undefined)).find(Boolean);
    if (clash) { skipped.push(`pod ${pod.name}: address already used by ${clash}`); continue; }
    for (const a of [pod.ipv4, pod.ipv6]) if (a) seen.set(a, pod.name);
    podSpecs.push({
      name: pod.name, node: pod.node,
      ...(pod.ipv4 ? { ipv4: pod.ipv4 } : {}), ...(pod.ipv6 ? { ipv6: pod.ipv6 } : {}),
      tcpPorts: [...pod.tcp].sort((a, b) => a - b), udpPorts: [...pod.udp].sort((a, b) => a - b),
    });
  }

  return {
    spec: {
      nodes, pods: podSpecs,
      outside: options.outside ?? outsideFor(objects, nodes),
      ...(options.prefix ? { prefix: options.prefix } : {}),
    },
    skipped,
  };
};

/** The default outside host, plus a host route via the first node for every LB/external IP outside its ranges. */
const outsideFor = (objects: readonly KubeObject[], nodes: readonly NodeSpec[]): OutsideSpec => {
  const first = nodes[0];
  if (!first) return DEFAULT_OUTSIDE;
  const routes = DEFAULT_OUTSIDE.routes.map((r) => ({ cidr: r.cidr, viaNode: first.name }));
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const ips = [
      ...arr(obj(o.spec).externalIPs).map(str),
      ...arr(obj(obj(o.status).loadBalancer).ingress).map((i) => str(obj(i).ip)),
    ].filter((ip): ip is string => !!ip && ipaddr.isValid(ip));
    for (const ip of ips) {
      if (routes.some((r) => cidrContains(r.cidr, ip))) continue;
      if (ip.includes(':') && !first.lanIPv6) continue;
      routes.push({ cidr: ip.includes(':') ? `${ip}/128` : `${ip}/32`, viaNode: first.name });
    }
  }
  return { ...DEFAULT_OUTSIDE, routes };
};
