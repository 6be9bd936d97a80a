/**
 * SyncTrace against an in-memory span exporter: the span tree and attributes of the sync paths the daemon has —
 * a kernel dataplane that succeeds or fails, no dataplane (proxy mode none), and a planner that throws.
 */
import { diag, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import test from 'ava';
import type { SyncOutcome } from '../../../lib/daemon.ts';
import type { SyncResult } from '../../../lib/dataplane/types.ts';
import { SwitchyardError } from '../../../lib/errors.ts';
import type { DesiredState } from '../../../lib/plan/types.ts';
import { SyncTrace } from '../../../lib/telemetry/sync-tracing.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

test.before(() => {
  trace.setGlobalTracerProvider(provider);
});
test.afterEach.always(() => exporter.reset());
test.after.always(async () => {
  await provider.shutdown();
  trace.disable();
  diag.disable();
});

const NO_SETTINGS = { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: false } as const;
const desired: DesiredState = { nodeName: 'n1', masqueradeAll: false, families: { 4: NO_SETTINGS, 6: NO_SETTINGS }, services: [] };
const result: SyncResult = { full: false, changedServices: 4, durationMs: 9, computeMs: 4, applyMs: 5, bytes: 77 };
const outcome = (over: Partial<SyncOutcome>): SyncOutcome => ({
  desired, changed: 2, dataplane: undefined, error: undefined, node: undefined, durationMs: 12, ...over,
});

/** name → parent name, and the spans by name. */
const tree = (spans: readonly ReadableSpan[]) => {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const shape = Object.fromEntries(
    spans.map((s) => [s.name, s.parentSpanContext === undefined ? null : (byId.get(s.parentSpanContext.spanId)?.name ?? '?')]),
  );
  return { shape, byName: new Map(spans.map((s) => [s.name, s])) };
};

// Tests share the exporter: serial.
test.serial('a dataplane sync: plan and dataplane under the root, compute then apply under the dataplane', async (t) => {
  const sync = new SyncTrace('iptables', true);
  sync.plan(() => desired);
  const got = await sync.dataplane(() => Promise.resolve(result));
  t.is(got, result);
  sync.end(outcome({ dataplane: result }));
  const { shape, byName } = tree(exporter.getFinishedSpans());
  t.deepEqual(shape, {
    'switchyard.plan': 'switchyard.sync',
    'switchyard.dataplane.compute': 'switchyard.dataplane.sync',
    'switchyard.dataplane.apply': 'switchyard.dataplane.sync',
    'switchyard.dataplane.sync': 'switchyard.sync',
    'switchyard.sync': null,
  });
  // The dataplane reported a partial sync although a full one was requested: its word counts.
  t.deepEqual(byName.get('switchyard.sync')?.attributes, {
    'switchyard.dataplane.mode': 'iptables',
    'switchyard.sync.kind': 'partial',
    'switchyard.sync.full': false,
    'switchyard.sync.services': 0,
    'switchyard.sync.changed': 2,
    'switchyard.sync.duration_ms': 12,
    'switchyard.sync.bytes': 77,
    'switchyard.sync.changed_services': 4,
  });
  t.is(byName.get('switchyard.sync')?.status.code, 0);
});

test.serial('no dataplane (mode none): only the plan child; full/partial is what was requested', (t) => {
  const sync = new SyncTrace('none', true);
  sync.plan(() => desired);
  sync.end(outcome({}));
  sync.end(outcome({ error: new Error('late') })); // a second end changes nothing
  const { shape, byName } = tree(exporter.getFinishedSpans());
  t.deepEqual(shape, { 'switchyard.plan': 'switchyard.sync', 'switchyard.sync': null });
  const root = byName.get('switchyard.sync');
  t.is(root?.attributes['switchyard.sync.kind'], 'full');
  t.is(root?.attributes['switchyard.sync.bytes'], undefined);
  t.is(root?.status.code, 0);
});

test.serial('a failing dataplane marks its span and, through the outcome, the sync span as errors', async (t) => {
  const sync = new SyncTrace('nftables', false);
  sync.plan(() => desired);
  const error = new SwitchyardError('ERR_DATAPLANE_APPLY', 'nft said no');
  await t.throwsAsync(sync.dataplane(() => Promise.reject(error)), { is: error });
  sync.end(outcome({ error }));
  const { shape, byName } = tree(exporter.getFinishedSpans());
  t.deepEqual(shape, { 'switchyard.plan': 'switchyard.sync', 'switchyard.dataplane.sync': 'switchyard.sync', 'switchyard.sync': null });
  for (const name of ['switchyard.dataplane.sync', 'switchyard.sync']) {
    t.deepEqual(byName.get(name)?.status, { code: 2, message: 'ERR_DATAPLANE_APPLY: nft said no' }, name);
    t.is(byName.get(name)?.events[0]?.name, 'exception', name);
  }
  t.is(byName.get('switchyard.sync')?.attributes['switchyard.sync.kind'], 'partial');
});

test.serial('a planner that throws ends the sync span with the error', (t) => {
  const sync = new SyncTrace('ipvs', false);
  t.throws(() => sync.plan(() => { throw new Error('plan bug'); }), { message: 'plan bug' });
  const { shape, byName } = tree(exporter.getFinishedSpans());
  t.deepEqual(shape, { 'switchyard.plan': 'switchyard.sync', 'switchyard.sync': null });
  t.deepEqual(byName.get('switchyard.sync')?.status, { code: 2, message: 'plan bug' });
  t.deepEqual(byName.get('switchyard.plan')?.status, { code: 2, message: 'plan bug' });
});
