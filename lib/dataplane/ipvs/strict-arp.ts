/**
 * kube-proxy's `strictARP` for IPVS mode: service addresses sit on a dummy interface of every node, so without these
 * the node answers ARP for a load balancer's address that belongs elsewhere (MetalLB's L2 mode asks for it).
 */
import { setSysctl, type KernelParams, type SysctlOutcome } from '../../conntrack/sysctls.ts';
import type { Logger } from '../../telemetry/logger-types.ts';

export const STRICT_ARP_SYSCTLS = [
  { name: 'net/ipv4/conf/all/arp_ignore', value: 1 },
  { name: 'net/ipv4/conf/all/arp_announce', value: 2 },
] as const;

export const applyStrictArp = async (params: KernelParams, logger: Logger): Promise<SysctlOutcome[]> => {
  const outcomes: SysctlOutcome[] = [];
  for (const setting of STRICT_ARP_SYSCTLS) {
    outcomes.push(await setSysctl(params, setting, logger, {
      why: 'ipvs strictARP',
      atStake: 'this node may answer ARP for service addresses on its IPVS dummy interface',
    }));
  }
  return outcomes;
};
