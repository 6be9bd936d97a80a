/**
 * The real KubeSource against the test API server through every fault kind. After each fault a Service is created
 * and one is deleted; the test measures the time from the fault to the new Service's arrival, and checks that the
 * stream, applied to a map, equals the server with no version emitted twice and `synced` once per kind.
 */
import test, { type ExecutionContext } from 'ava';
import { RESOURCE_KINDS } from '../../lib/source/types.ts';
import { expectedVersions, seedCluster, service, startRig, waitFor, type Rig } from './harness.ts';

const recoveries: string[] = [];

const withSyncedRig = async (t: ExecutionContext): Promise<Rig> => {
  const rig = await startRig({ seed: seedCluster });
  t.teardown(rig.close);
  await waitFor('all kinds synced', () => rig.recorder.synced.size === RESOURCE_KINDS.length);
  // Let every watch open so the fault hits live streams.
  await waitFor('watches open', () => rig.server.openWatches() === RESOURCE_KINDS.length);
  return rig;
};

/** Changes made right after a fault, while the source is (or is about to be) disconnected. */
const changeDuringFault = (rig: Rig, marker: string): void => {
  rig.server.delete('Service', 'default', 'web');
  rig.server.create(service('default', marker));
};

const measure = async (t: ExecutionContext, rig: Rig, fault: string, marker: string, since: number): Promise<number> => {
  await waitFor(`${marker} to arrive after ${fault}`, () => rig.recorder.arrivedAt('upsert', 'Service', `default/${marker}`) !== undefined);
  await waitFor('delete made during the fault', () => !rig.recorder.state.has('Service/default/web'));
  const ms = rig.recorder.arrivedAt('upsert', 'Service', `default/${marker}`)! - since;
  const line = `${fault}: recovered in ${ms.toFixed(0)} ms`;
  recoveries.push(line);
  t.log(line);
  return ms;
};

const assertConsistent = async (t: ExecutionContext, rig: Rig): Promise<void> => {
  await waitFor('stream equals server', () => {
    return JSON.stringify(rig.recorder.versions()) === JSON.stringify(expectedVersions(rig.server));
  });
  t.deepEqual(rig.recorder.versions(), expectedVersions(rig.server));
  t.deepEqual(rig.recorder.duplicates, [], 'no version emitted twice');
  for (const kind of RESOURCE_KINDS) t.is(rig.recorder.synced.get(kind), 1, `${kind} synced once`);
};

test.serial('500 on list and watch after a dropped connection', async (t) => {
  const rig = await withSyncedRig(t);
  rig.server.failNext(4, { pathIncludes: '/api/v1/services' });
  const t0 = performance.now();
  rig.server.dropWatches({ pathIncludes: '/api/v1/services' });
  changeDuringFault(rig, 'after-500');
  await measure(t, rig, '500 x4 on services', 'after-500', t0);
  await assertConsistent(t, rig);
  const services = rig.source.stats().find((s) => s.kind === 'Service')!;
  t.true(services.restarts >= 4, `restarts ${services.restarts}`);
  t.true(rig.logger.lines.some((l) => l.level === 'warn' && JSON.stringify(l.fields).includes('500')));
});

test.serial('dropped watch connections', async (t) => {
  const rig = await withSyncedRig(t);
  const t0 = performance.now();
  t.is(rig.server.dropWatches(), RESOURCE_KINDS.length);
  changeDuringFault(rig, 'after-drop');
  await measure(t, rig, 'dropped watches', 'after-drop', t0);
  await assertConsistent(t, rig);
  // Resumed from the last resourceVersion: no relist needed.
  t.true(rig.source.stats().every((s) => s.lists === 1), JSON.stringify(rig.source.stats()));
});

test.serial('stalled stream: the watchdog cuts it and re-watches', async (t) => {
  const rig = await withSyncedRig(t);
  const t0 = performance.now();
  t.is(rig.server.stallWatches({ pathIncludes: '/api/v1/services' }), 1);
  changeDuringFault(rig, 'after-stall');
  const ms = await measure(t, rig, 'stalled watch (staleAfterMs=1000)', 'after-stall', t0);
  t.true(ms >= 900, 'nothing arrives before the watchdog fires');
  await assertConsistent(t, rig);
  t.true(rig.source.stats().find((s) => s.kind === 'Service')!.staleRestarts >= 1);
});

test.serial('410 Expired after compaction: relist, with deletes made while disconnected', async (t) => {
  const rig = await withSyncedRig(t);
  const t0 = performance.now();
  rig.server.dropWatches();
  changeDuringFault(rig, 'after-compact');
  rig.server.compact();
  await measure(t, rig, '410 Expired (compaction)', 'after-compact', t0);
  await assertConsistent(t, rig);
  // Kinds that did not change are consistent before their relist; wait for every kind's 410 → relist.
  await waitFor('every kind relisted', () => rig.source.stats().every((s) => s.lists === 2));
  await assertConsistent(t, rig);
});

test.serial('410 Expired as an in-stream ERROR event', async (t) => {
  const rig = await withSyncedRig(t);
  rig.server.expireNextWatch(1, { pathIncludes: '/api/v1/services' });
  const t0 = performance.now();
  rig.server.dropWatches({ pathIncludes: '/api/v1/services' });
  changeDuringFault(rig, 'after-expire');
  await measure(t, rig, '410 Expired (ERROR event)', 'after-expire', t0);
  await assertConsistent(t, rig);
  t.is(rig.source.stats().find((s) => s.kind === 'Service')!.lists, 2);
});

test.serial('API server down, then up again', async (t) => {
  const rig = await withSyncedRig(t);
  await rig.server.goDown();
  const down = performance.now();
  changeDuringFault(rig, 'after-outage');
  await new Promise((r) => setTimeout(r, 1500));
  const warnsWhileDown = rig.logger.lines.filter((l) => l.level === 'warn');
  t.true(warnsWhileDown.length >= RESOURCE_KINDS.length, 'a warn per failed attempt');
  t.regex(JSON.stringify(warnsWhileDown.at(-1)!.fields), new RegExp(`${rig.server.url}.*ECONNREFUSED`));
  const up = performance.now();
  await rig.server.comeUp();
  const ms = await measure(t, rig, 'API server down 1.5 s (from up)', 'after-outage', up);
  t.log(`API server down: ${(ms + up - down).toFixed(0)} ms from going down`);
  await assertConsistent(t, rig);
});

test.serial('unreachable at start: keeps retrying, syncs when the server appears', async (t) => {
  const rig = await startRig({ kinds: ['Service'], seed: seedCluster });
  t.teardown(rig.close);
  await waitFor('synced', () => rig.recorder.synced.get('Service') === 1);
  await rig.server.goDown();
  await rig.source.stop();
  // A fresh source against a dead server.
  const { KubeSource } = await import('../../lib/source/kube.ts');
  const { kubeConfigFor, Recorder, FAST_TIMING } = await import('./harness.ts');
  const { recordingLogger } = await import('../../lib/telemetry/logger-types.ts');
  const logger = recordingLogger();
  const recorder = new Recorder();
  const source = new KubeSource({ kubeConfig: kubeConfigFor(rig.server.url), kinds: ['Service'], timing: FAST_TIMING, logger });
  t.teardown(() => source.stop());
  await source.start(recorder.sink);
  await waitFor('three failed attempts', () => logger.lines.filter((l) => l.level === 'warn').length >= 3);
  t.is(recorder.synced.size, 0);
  const line = logger.lines.find((l) => l.level === 'warn')!;
  t.regex(line.msg ?? '', /Service list\/watch failed; retrying/);
  t.regex(JSON.stringify(line.fields), /ECONNREFUSED/);
  const up = performance.now();
  await rig.server.comeUp();
  await waitFor('synced after the server appears', () => recorder.synced.get('Service') === 1);
  t.log(`unreachable at start: synced ${(performance.now() - up).toFixed(0)} ms after the server came up`);
  t.deepEqual(recorder.versions(), expectedVersions(rig.server, ['Service']));
});

test.after.always(() => {
  if (recoveries.length > 0) console.log(`\nrecovery times:\n  ${recoveries.join('\n  ')}`);
});
