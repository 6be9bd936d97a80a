/**
 * The daemon's lifetime: build it from a Config, start it, stop it on SIGTERM/SIGINT within the contract's 5 s,
 * leaving kernel rules in place. And `--cleanup`.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../config/types.ts';
import { procKernelParams, type KernelParams } from '../conntrack/sysctls.ts';
import { Daemon, type SyncScheduler } from '../daemon.ts';
import { describeError } from '../errors.ts';
import { AbstractSocketTransport } from '../handover/abstract-socket.ts';
import { WriterLease } from '../handover/lease.ts';
import { SyncRunner } from '../sync/runner.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { allDataplanes, dataplaneFromConfig } from './dataplane-from-config.ts';
import { ingressFromConfig } from './ingress-from-config.ts';
import { applyNodeKernelParams, type NodeKernelOutcome } from './node-kernel.ts';
import { NodeServices } from './node-services.ts';
import { planOptionsFromConfig } from './plan-options.ts';
import type { PlanOptions } from '../plan/plan.ts';
import { sourceFromConfig } from './source-from-config.ts';

/**
 * The abstract Unix socket name of the writer lease: one per network namespace, i.e. per node for hostNetwork
 * pods (lib/handover/README.md).
 */
export const WRITER_LEASE_NAME = 'switchyard/dataplane-writer';

/** Time SIGTERM leaves for in-flight ingress requests, inside the 5 s the contract allows for exiting. */
const DRAIN_MS = 3_000;

/** Localhost NodePorts stay off when route_localnet could not be set (NodeServices.start found out). */
const withKernel = (options: PlanOptions, kernel: NodeKernelOutcome | undefined): PlanOptions =>
  kernel !== undefined && !kernel.localhostNodePorts && options.localhostNodePorts === true ? { ...options, localhostNodePorts: false } : options;

/** With `node`, after node.start(): the plan options follow what the kernel parameters allowed. */
export const buildDaemon = (config: Config, nodeName: string, logger: Logger, node?: NodeServices): Daemon => {
  const scheduler = (sync: (forceFull: boolean) => Promise<void>): SyncScheduler => {
    const runner = new SyncRunner({
      sync: (request) => sync(request.full),
      minIntervalMs: config.proxyMode === 'ipvs' ? config.ipvs.minSyncPeriodMs : config.minSyncPeriodMs,
      maxIntervalMs: config.proxyMode === 'ipvs' ? config.ipvs.syncPeriodMs : config.syncPeriodMs,
      onError: (error, attempt) => logger.warn({ err: describeError(error), attempt }, 'sync failed; retrying'),
    });
    return { request: () => runner.run(), start: () => runner.start(), stop: async () => runner.stop() };
  };
  return new Daemon({
    logger,
    source: sourceFromConfig(config, nodeName, logger, node?.sourceHooks),
    planOptions: withKernel(planOptionsFromConfig(config, nodeName), node?.kernel),
    dataplane: dataplaneFromConfig(config, logger),
    ingress: ingressFromConfig(config, logger, node?.ingressHooks),
    ...(config.proxyMode !== 'none' ? { lease: new WriterLease({ transport: new AbstractSocketTransport(WRITER_LEASE_NAME), logger }) } : {}),
    scheduler,
    ...(node ? { hooks: node.hooks } : {}),
  });
};

const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });

export const runDaemonUntilSignalled = async (config: Config, nodeName: string, logger: Logger): Promise<number> => {
  const node = new NodeServices(config, logger);
  let built: Daemon | undefined;
  node.watchReadiness(() => built?.ready ?? false);
  logger.info(
    { node: nodeName, mode: config.proxyMode, source: config.manifestsDir ?? config.master ?? config.kubeconfig ?? 'in-cluster' },
    'starting switchyard',
  );
  try {
    await node.start();
  } catch (e) {
    // Only --bind-address-hard-fail gets here: what did start must not keep the process alive.
    await node.stop();
    throw e;
  }
  // Built once the kernel parameters are set: what they allowed shapes the rules (localhost NodePorts).
  const daemon = buildDaemon(config, nodeName, logger, node);
  built = daemon;
  await daemon.start();
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping; kernel rules stay in place');
  // A second signal, or a stuck drain, must not keep the process past the contract's 5 s.
  const deadline = setTimeout(() => process.exit(0), 4_500);
  deadline.unref();
  await daemon.stop(DRAIN_MS);
  await node.stop();
  clearTimeout(deadline);
  // Watch sockets and pooled connections may linger: the contract wants the process gone.
  setTimeout(() => process.exit(0), 50).unref();
  return 0;
};

export const runCleanup = async (config: Config, logger: Logger): Promise<number> => {
  let failed = false;
  for (const dataplane of allDataplanes(config)) {
    try {
      await dataplane.cleanup();
      logger.info({ mode: dataplane.mode }, 'removed rules');
    } catch (e) {
      failed = true;
      logger.error({ mode: dataplane.mode, err: describeError(e) }, `cleanup failed: ${describeError(e)}`);
    }
  }
  return failed ? 1 : 0;
};

/** --init-only: the kernel parameters that need full root, then exit (kube-proxy's flag for an init container). */
export const runInitOnly = async (config: Config, logger: Logger, params: KernelParams = procKernelParams): Promise<number> => {
  await applyNodeKernelParams(config, params, availableParallelism(), logger);
  logger.info({ mode: config.proxyMode }, 'init-only: kernel parameters set; exiting');
  return 0;
};
