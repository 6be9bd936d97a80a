/**
 * The daemon with NodeServices attached and every side effect faked except loopback HTTP (metrics, health):
 * shared by the metrics/health tests and the trace-export tests.
 */
import { NodeServices } from '../../../lib/app/node-services.ts';
import { parseCommandLine } from '../../../lib/config/index.ts';
import { FakeConntrack } from '../../../lib/conntrack/conntrack.ts';
import { FakeKernelParams } from '../../../lib/conntrack/sysctls.ts';
import { Daemon, type SyncScheduler } from '../../../lib/daemon.ts';
import type { Dataplane, SyncResult } from '../../../lib/dataplane/types.ts';
import { SwitchyardError } from '../../../lib/errors.ts';
import type { KubeObject, SourceEvent, SourceSink } from '../../../lib/source/types.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

/** Succeeds (full the first time) unless told to fail the next sync. */
export class FakeDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  failNext = false;
  syncs = 0;
  sync(): Promise<SyncResult> {
    this.syncs++;
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new SwitchyardError('ERR_DATAPLANE_APPLY', 'injected'));
    }
    return Promise.resolve({ full: this.syncs === 1, changedServices: 1, durationMs: 5, computeMs: 2, applyMs: 3, bytes: 321 });
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
}

export const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({
  type: 'upsert',
  kind,
  key: object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name,
  object,
});

/** A Daemon wired to NodeServices, with a scheduler that syncs only when the test says so (`syncNow`). */
export const daemonWithNodeServices = async (env: NodeJS.ProcessEnv = {}, flags: readonly string[] = []) => {
  const { config } = await parseCommandLine([
    '--manifests', '/nonexistent', '--hostname-override', 'node-a',
    '--healthz-bind-address', '127.0.0.1:0', '--metrics-bind-address', '127.0.0.1:0',
    '--ingress-http-address', '', '--ingress-https-address', '',
    ...flags,
  ]);
  const conntrack = new FakeConntrack();
  const logger = recordingLogger();
  const node = new NodeServices(config, logger, { conntrack, kernelParams: new FakeKernelParams(), cores: 2, env });
  let sink: SourceSink = () => undefined;
  let chain: Promise<void> = Promise.resolve();
  const dataplane = new FakeDataplane();
  let syncFn: (full: boolean) => Promise<void> = () => Promise.resolve();
  const daemon = new Daemon({
    logger,
    source: { start: (s) => ((sink = s), Promise.resolve()), stop: () => Promise.resolve() },
    planOptions: { nodeName: 'node-a', clusterCIDRs: [], nodePortAddresses: undefined, masqueradeAll: false },
    dataplane,
    ingress: undefined,
    scheduler: (sync): SyncScheduler => ((syncFn = sync), { request: () => undefined, start: () => undefined, stop: () => chain }),
    hooks: node.hooks,
  });
  node.watchReadiness(() => daemon.ready);
  await node.start();
  await daemon.start();
  const syncNow = async (): Promise<void> => {
    chain = chain.then(() => syncFn(false)).catch(() => undefined);
    await chain;
    await node.idle();
  };
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
  const probe = async (path: string): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${node.healthzPort}${path}`);
    await res.text();
    return res.status;
  };
  const stop = async (): Promise<void> => {
    await daemon.stop();
    await node.stop();
  };
  return { node, daemon, dataplane, conntrack, logger, emit: (event: SourceEvent): void => sink(event), syncNow, scrape, probe, stop };
};
