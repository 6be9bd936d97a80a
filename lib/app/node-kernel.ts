/**
 * What a node's proxy sets in the kernel at start besides its rules: the sysctls that need full root (all that
 * `--init-only` does, for an init container, as kube-proxy's flag of that name) and its own oom_score_adj. Every
 * failure is a logged warning: a read-only /proc/sys inside a namespace must not stop the proxy.
 */
import { ingressEnabled, type Config } from '../config/types.ts';
import { applyConntrackSysctls, setSysctl, type KernelParams } from '../conntrack/sysctls.ts';
import { applyStrictArp } from '../dataplane/ipvs/strict-arp.ts';
import { describeError } from '../errors.ts';
import { enableListenerMigration } from '../handover/migrate-sysctl.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { localhostNodePortsWanted } from './plan-options.ts';

export const OOM_SCORE_ADJ_PATH = '/proc/self/oom_score_adj';

/** Routing of 127.0.0.0/8 beyond the loopback interface, which localhost NodePorts need once DNATed to a pod. */
export const ROUTE_LOCALNET = { name: 'net/ipv4/conf/all/route_localnet', value: 1 } as const;

/** What the kernel parameters allow the rules to do. */
export interface NodeKernelOutcome {
  /** NodePorts may answer on 127.0.0.1: asked for (localhostNodePortsWanted) and route_localnet is 1. */
  readonly localhostNodePorts: boolean;
}

export const applyNodeKernelParams = async (config: Config, params: KernelParams, cores: number, logger: Logger): Promise<NodeKernelOutcome> => {
  // Listeners are shared with the next pod during a rollout (SO_REUSEPORT): see lib/handover/README.md.
  if (ingressEnabled(config)) await enableListenerMigration(params, logger);
  if (config.proxyMode === 'none') return { localhostNodePorts: false };
  await applyConntrackSysctls(config.conntrack, cores, params, logger);
  if (config.proxyMode === 'ipvs' && config.ipvs.strictARP) await applyStrictArp(params, logger);
  if (!localhostNodePortsWanted(config)) return { localhostNodePorts: false };
  // kube-proxy exits when it cannot set it; here the rules leave loopback out instead, so nothing else changes.
  const outcome = await setSysctl(params, ROUTE_LOCALNET, logger, {
    why: 'NodePorts also answer on 127.0.0.1 (--iptables-localhost-nodeports; --nodeport-addresses covers loopback)',
    atStake: 'NodePorts will not answer on 127.0.0.1',
  });
  return { localhostNodePorts: outcome.result !== 'failed' };
};

/** Writes oom_score_adj when it differs; returns whether the process now has it. */
export const applyOomScoreAdj = async (value: number, params: KernelParams, logger: Logger): Promise<boolean> => {
  try {
    const current = Number((await params.read(OOM_SCORE_ADJ_PATH)).trim());
    if (current === value) return true;
    await params.write(OOM_SCORE_ADJ_PATH, String(value));
    logger.info({ oomScoreAdj: value, previous: current }, `set oom_score_adj to ${value}`);
    return true;
  } catch (e) {
    logger.warn({ oomScoreAdj: value, err: describeError(e) }, `cannot set oom_score_adj to ${value} (${describeError(e)}); leaving it as it is`);
    return false;
  }
};
