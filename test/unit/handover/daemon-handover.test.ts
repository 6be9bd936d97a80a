/**
 * Two daemons on one node (a surge rollout) sharing one writer lease: the newcomer takes the rules over at its first
 * write, the old one finishes its sync and then writes nothing more while still planning, and takes the rules back
 * with a full sync when the newcomer dies.
 */
import test from 'ava';
import { Daemon, type IngressSide, type SyncScheduler } from '../../../lib/daemon.ts';
import type { Dataplane, SyncHint, SyncResult } from '../../../lib/dataplane/types.ts';
import { FakeLeaseNamespace } from '../../../lib/handover/fake-transport.ts';
import { WriterLease } from '../../../lib/handover/lease.ts';
import type { DesiredState } from '../../../lib/plan/types.ts';
import type { KubeObject, SourceEvent, SourceSink } from '../../../lib/source/types.ts';
import { nullLogger } from '../../../lib/telemetry/logger-types.ts';
import { ep, serviceObject, sliceObject } from '../model/builders.ts';
import { until } from './until.ts';

interface Write { readonly full: boolean; readonly services: number }

/** Records what it was asked to write; `slow` holds each write open until released. */
class RecordingDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  readonly writes: Write[] = [];
  inFlight = 0;
  slowMs = 0;
  async sync(state: DesiredState, hint: SyncHint): Promise<SyncResult> {
    this.inFlight++;
    if (this.slowMs > 0) await new Promise((resolve) => setTimeout(resolve, this.slowMs));
    this.writes.push({ full: hint.forceFull === true, services: state.services.length });
    this.inFlight--;
    return { full: hint.forceFull === true, changedServices: 0, durationMs: 1, computeMs: 0, applyMs: 1, bytes: 1 };
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
}

const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({
  type: 'upsert',
  kind,
  key: `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`,
  object,
});

const service = (name: string, ip: string): SourceEvent[] => [
  upsert('Service', serviceObject(name, { clusterIP: ip, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] })),
  upsert('EndpointSlice', sliceObject(`${name}-1`, name, { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [ep('10.244.1.5')] })),
];

/** An ingress whose listeners bind when the test says so (a deferred bind, or one retried after a failure). */
class StubIngress implements IngressSide {
  started = 0;
  serving = false;
  apply(): { readonly changed: boolean } {
    return { changed: false };
  }
  update(): Promise<void> {
    return Promise.resolve();
  }
  start(): Promise<void> {
    this.started++;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** A daemon whose syncs run one at a time when the test says so (syncNow); requests for one are counted. */
const daemonOn = async (ns: FakeLeaseNamespace, ingress?: IngressSide) => {
  const dataplane = new RecordingDataplane();
  const lease = new WriterLease({ transport: ns.transport(), logger: nullLogger, handoverTimeoutMs: 200, reclaimIntervalMs: 10 });
  let sink: SourceSink = () => undefined;
  let chain: Promise<void> = Promise.resolve();
  let syncFn: (full: boolean) => Promise<void> = () => Promise.resolve();
  let requests = 0;
  const run = (): Promise<void> => (chain = chain.then(() => syncFn(false)).catch(() => undefined));
  const daemon = new Daemon({
    logger: nullLogger,
    source: { start: (s) => ((sink = s), Promise.resolve()), stop: () => Promise.resolve() },
    planOptions: { nodeName: 'node-a', clusterCIDRs: [], nodePortAddresses: undefined, masqueradeAll: false },
    dataplane,
    ingress,
    lease,
    scheduler: (sync): SyncScheduler => ((syncFn = sync), { request: () => void requests++, start: () => undefined, stop: () => chain }),
  });
  await daemon.start();
  const emit = (events: readonly SourceEvent[]): void => events.forEach((e) => sink(e));
  emit([{ type: 'synced', kind: 'Service' }, { type: 'synced', kind: 'EndpointSlice' }]);
  return { daemon, dataplane, lease, emit, syncNow: async () => { await run(); await chain; }, requests: () => requests };
};

test('the newcomer writes from its first sync on; the old daemon finishes its write, then writes nothing more', async (t) => {
  const ns = new FakeLeaseNamespace();
  const old = await daemonOn(ns);
  t.teardown(() => old.daemon.stop());
  old.emit(service('web', '10.96.0.10'));
  await old.syncNow();
  t.deepEqual(old.dataplane.writes, [{ full: true, services: 1 }]);
  t.true(old.daemon.ready);

  // The old one is in the middle of a slow write when the newcomer asks.
  old.dataplane.slowMs = 100;
  old.emit(service('api', '10.96.0.11'));
  void old.syncNow();
  await until('old writing', () => old.dataplane.inFlight === 1);

  const next = await daemonOn(ns);
  t.teardown(() => next.daemon.stop());
  next.emit([...service('web', '10.96.0.10'), ...service('api', '10.96.0.11')]);
  await next.syncNow();
  t.is(old.dataplane.inFlight, 0, 'the old write finished before the newcomer wrote');
  t.deepEqual(old.dataplane.writes, [{ full: true, services: 1 }, { full: false, services: 2 }]);
  t.deepEqual(next.dataplane.writes, [{ full: true, services: 2 }]);
  t.true(next.daemon.ready);
  t.false(old.daemon.ready, 'the old daemon is not ready once it has handed over');

  // A change seen by both: only the newcomer writes it; the old one plans and stays quiet.
  for (const d of [old, next]) d.emit(service('shop', '10.96.0.12'));
  await Promise.all([old.syncNow(), next.syncNow()]);
  t.is(old.dataplane.writes.length, 2);
  t.deepEqual(next.dataplane.writes.at(-1), { full: false, services: 3 });
  t.false(old.lease.held);
  t.true(next.lease.held);
});

test('the newcomer dies: the old daemon takes the rules back with a full sync of what it knows now', async (t) => {
  const ns = new FakeLeaseNamespace();
  const old = await daemonOn(ns);
  t.teardown(() => old.daemon.stop());
  old.emit(service('web', '10.96.0.10'));
  await old.syncNow();
  const next = await daemonOn(ns);
  next.emit(service('web', '10.96.0.10'));
  await next.syncNow();
  old.emit(service('api', '10.96.0.11'));
  await old.syncNow();
  t.is(old.dataplane.writes.length, 1, 'standing by');

  ns.crash();
  await next.daemon.stop();
  const before = old.requests();
  await until('old asks for a sync', () => old.requests() > before);
  await old.syncNow();
  t.deepEqual(old.dataplane.writes[1], { full: true, services: 2 });
  t.true(old.lease.held);
  t.true(old.daemon.ready);
  old.emit(service('shop', '10.96.0.12'));
  await old.syncNow();
  t.deepEqual(old.dataplane.writes[2], { full: false, services: 3 }, 'increments again after the full sync');
});

test('a holder that does not hand over: the newcomer\'s sync fails with ERR_LEASE and writes nothing', async (t) => {
  const ns = new FakeLeaseNamespace();
  const old = await daemonOn(ns);
  t.teardown(() => old.daemon.stop());
  old.emit(service('web', '10.96.0.10'));
  await old.syncNow();
  ns.answering = false;
  const next = await daemonOn(ns);
  t.teardown(() => next.daemon.stop());
  next.emit(service('web', '10.96.0.10'));
  await next.syncNow();
  t.deepEqual(next.dataplane.writes, []);
  t.false(next.daemon.ready);
  t.true(old.lease.held);
});

test('ready needs the rules written and the ingress serving: rules alone are not enough', async (t) => {
  const ingress = new StubIngress();
  const d = await daemonOn(new FakeLeaseNamespace(), ingress);
  t.teardown(() => d.daemon.stop());
  t.is(ingress.started, 1, 'start() starts the ingress');
  d.emit(service('web', '10.96.0.10'));
  await d.syncNow();
  t.deepEqual(d.dataplane.writes, [{ full: true, services: 1 }]);
  t.false(d.daemon.ready, 'listeners not bound yet');
  ingress.serving = true;
  t.true(d.daemon.ready);
});
