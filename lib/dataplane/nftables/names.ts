/**
 * Stable, readable, collision-resistant names for per-service chains and sets. Pure (no node:crypto): FNV-1a.
 */
import type { ServicePlan } from '../../plan/types.ts';
import { base32Hash } from '../hash.ts';
import type { PlannedEndpoint } from '../../plan/types.ts';

/** 8 base32 characters (40 bits) of hash. */
export const shortHash = (s: string): string => base32Hash(s, 8);

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
