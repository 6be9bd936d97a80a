/** Config → the planner's options; shared by the daemon and `switchyard plan` so both show the same thing. */
import type { Config } from '../config/types.ts';
import { nodePortAddressesCoverLoopback, type PlanOptions } from '../plan/plan.ts';

export const planOptionsFromConfig = (config: Config, nodeName: string): PlanOptions => ({
  nodeName,
  // detectLocalMode NodeCIDR: the planner falls back to the Node's podCIDRs when no cluster CIDR is given.
  clusterCIDRs: config.detectLocalMode === 'NodeCIDR' ? [] : config.clusterCIDRs,
  nodePortAddresses: config.nodePortAddresses,
  masqueradeAll: config.masqueradeAll,
  masqueradeBit: config.masqueradeBit,
  ...(localhostNodePortsWanted(config) ? { localhostNodePorts: true } : {}),
  ...podInterfaceOf(config),
});

/**
 * kube-proxy's iptables-mode localhost NodePorts: on by default, in effect only where --nodeport-addresses covers
 * 127.0.0.0/8 (then route_localnet=1 is needed: lib/app/node-kernel.ts).
 */
export const localhostNodePortsWanted = (config: Config): boolean =>
  config.proxyMode === 'iptables' && config.localhostNodePorts && nodePortAddressesCoverLoopback(config.nodePortAddresses);

const podInterfaceOf = (config: Config): Pick<PlanOptions, 'podInterface'> => {
  if (config.detectLocalMode === 'BridgeInterface' && config.podBridgeInterface) {
    return { podInterface: { name: config.podBridgeInterface, prefix: false } };
  }
  if (config.detectLocalMode === 'InterfaceNamePrefix' && config.podInterfaceNamePrefix) {
    return { podInterface: { name: config.podInterfaceNamePrefix, prefix: true } };
  }
  return {};
};
