/**
 * Stable, readable, collision-resistant names for per-service chains and sets. Pure (no node:crypto): FNV-1a.
 */
import type { ServicePlan } from '../../plan/types.ts';
import type { PlannedEndpoint } from '../../plan/types.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const fnv1a = (s: string, seed: number): number => {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
};

/** 8 base32 characters (40 bits) of hash. */
export const shortHash = (s: string): string => {
  const a = fnv1a(s, 0x811c9dc5);
  const b = fnv1a(s, 0x9e3779b9);
  let out = '';
  let bits = BigInt(a) * 0x100000000n + BigInt(b);
  for (let i = 0; i < 8; i++) {
    out += ALPHABET[Number(bits & 31n)];
    bits >>= 5n;
  }
  return out;
};

const servicePart = (p: ServicePlan): string =>
  `${p.namespace}/${p.name}/${p.protocol.toLowerCase()}/${p.portName}`;

const suffix = (p: ServicePlan): string => `${shortHash(p.id)}-${servicePart(p)}`;

export const serviceChainName = (p: ServicePlan): string => `service-${suffix(p)}`;
export const localChainName = (p: ServicePlan): string => `local-${suffix(p)}`;
export const externalChainName = (p: ServicePlan): string => `external-${suffix(p)}`;
export const firewallChainName = (p: ServicePlan): string => `firewall-${suffix(p)}`;

const endpointPart = (p: ServicePlan, ep: PlannedEndpoint): string =>
  `${shortHash(`${p.id}|${ep.ip}|${ep.port}`)}-${servicePart(p)}__${ep.ip.replaceAll(':', '.')}/${ep.port}`;

export const endpointChainName = (p: ServicePlan, ep: PlannedEndpoint): string => `endpoint-${endpointPart(p, ep)}`;
export const affinitySetName = (p: ServicePlan, ep: PlannedEndpoint): string => `affinity-${endpointPart(p, ep)}`;
