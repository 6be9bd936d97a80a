/** Config → the planner's options; shared by the daemon and `switchyard plan` so both show the same thing. */
import type { Config } from '../config/types.ts';
import type { PlanOptions } from '../plan/plan.ts';

export const planOptionsFromConfig = (config: Config, nodeName: string): PlanOptions => ({
  nodeName,
  // detectLocalMode NodeCIDR: the planner falls back to the Node's podCIDRs when no cluster CIDR is given.
  clusterCIDRs: config.detectLocalMode === 'NodeCIDR' ? [] : config.clusterCIDRs,
  nodePortAddresses: config.nodePortAddresses,
  masqueradeAll: config.masqueradeAll,
  masqueradeBit: config.masqueradeBit,
  ...podInterfaceOf(config),
});

const podInterfaceOf = (config: Config): Pick<PlanOptions, 'podInterface'> => {
  if (config.detectLocalMode === 'BridgeInterface' && config.podBridgeInterface) {
    return { podInterface: { name: config.podBridgeInterface, prefix: false } };
  }
  if (config.detectLocalMode === 'InterfaceNamePrefix' && config.podInterfaceNamePrefix) {
    return { podInterface: { name: config.podInterfaceNamePrefix, prefix: true } };
  }
  return {};
};
