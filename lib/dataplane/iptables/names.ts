/**
 * Chain names: fixed `SWITCHYARD-…` chains and per-service / per-endpoint chains named by a hash, short enough for
 * iptables' 28-character limit (`SWITCHYARD-SVC-` + 13). Pure (FNV-1a, no node:crypto).
 */
import type { IPFamily } from '../../model/types.ts';
import type { PlannedEndpoint, ServicePlan } from '../../plan/types.ts';
import { base32Hash } from '../hash.ts';

export const SERVICES = 'SWITCHYARD-SERVICES';
export const NODEPORTS = 'SWITCHYARD-NODEPORTS';
export const EXTERNAL_SERVICES = 'SWITCHYARD-EXTERNAL-SERVICES';
export const POSTROUTING = 'SWITCHYARD-POSTROUTING';
export const MARK_MASQ = 'SWITCHYARD-MARK-MASQ';
/** Marks for masquerade unless the source is inside one of several cluster CIDRs. */
export const MASQ_NONCLUSTER = 'SWITCHYARD-MASQ-NONCLUSTER';
export const FIREWALL = 'SWITCHYARD-FIREWALL';
export const FORWARD = 'SWITCHYARD-FORWARD';
/** Rejects ClusterIP traffic that no service rule DNATed (a port the service does not have). */
export const CLUSTER_IPS = 'SWITCHYARD-CLUSTER-IPS';
export const CANARY = 'SWITCHYARD-CANARY';

/**
 * ipset (`hash:ip,port,ip`) of (endpoint IP, protocol:port, endpoint IP) for every endpoint DNATed inline (services
 * without session affinity): `-m set --match-set … dst,dst,src` finds a pod that reached itself through its service.
 */
export const hairpinSet = (family: IPFamily): string => (family === 4 ? 'SWITCHYARD-HAIRPIN' : 'SWITCHYARD-HAIRPIN6');
/** Built by a full sync and swapped in, so the live set is never empty half-way. */
export const hairpinSetScratch = (family: IPFamily): string => `${hairpinSet(family)}-NEXT`;

/** 12 base32 characters (60 bits) of hash: collisions are negligible at 100k+ chains. */
export const chainHash = (s: string): string => base32Hash(s, 12);

export const serviceChain = (p: ServicePlan): string => `SWITCHYARD-SVC-${chainHash(p.id)}`;
export const localChain = (p: ServicePlan): string => `SWITCHYARD-SVL-${chainHash(p.id)}`;
export const externalChain = (p: ServicePlan): string => `SWITCHYARD-EXT-${chainHash(p.id)}`;
export const firewallChain = (p: ServicePlan): string => `SWITCHYARD-FW-${chainHash(p.id)}`;
export const endpointChain = (p: ServicePlan, e: PlannedEndpoint): string => `SWITCHYARD-SEP-${chainHash(`${p.id}|${e.ip}|${e.port}`)}`;

export const isOurChain = (name: string): boolean => name.startsWith('SWITCHYARD-');
