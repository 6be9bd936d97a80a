/** v1 Node → NodeInfo: what the proxy needs to know about the node it runs on. */
import { parseNode, type NodeObject, type ParseResult } from './api.ts';
import { parseCIDR, parseIP } from './ip.ts';
import type { NodeInfo } from './types.ts';

export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';

/** An already schema-validated Node → NodeInfo. Addresses other than InternalIP/ExternalIP are not read. */
export const nodeInfoFromObject = (node: NodeObject): ParseResult<NodeInfo> => {
  const internal: string[] = [];
  const external: string[] = [];
  for (const [i, address] of (node.status?.addresses ?? []).entries()) {
    if (address.type !== 'InternalIP' && address.type !== 'ExternalIP') continue;
    const parsed = parseIP(address.address);
    if (!parsed) {
      return {
        ok: false,
        reason: `status.addresses[${i}]: ${address.type} ${JSON.stringify(address.address)} is not a valid IP address`,
      };
    }
    const list = address.type === 'InternalIP' ? internal : external;
    if (!list.includes(parsed.ip)) list.push(parsed.ip);
  }
  const spec = node.spec ?? {};
  const rawCIDRs = spec.podCIDRs && spec.podCIDRs.length > 0 ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [];
  const podCIDRs = [...new Set(rawCIDRs.map((cidr) => parseCIDR(cidr)?.cidr ?? cidr))];
  const labels = { ...(node.metadata.labels ?? {}) };
  return {
    ok: true,
    value: {
      name: node.metadata.name,
      labels,
      zone: labels[LABEL_TOPOLOGY_ZONE] || undefined,
      addresses: { internal, external },
      podCIDRs,
      deleting: Boolean(node.metadata.deletionTimestamp),
      taintKeys: [...new Set((spec.taints ?? []).map((t) => t.key))].sort(),
    },
  };
};

/** Validate a Node as plain JSON and convert it. */
export const nodeInfoFromNode = (input: unknown): ParseResult<NodeInfo> => {
  const parsed = parseNode(input);
  return parsed.ok ? nodeInfoFromObject(parsed.value) : parsed;
};
