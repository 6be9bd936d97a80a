import test from 'ava';
import { RESOURCE_KINDS } from '../../lib/source/types.ts';
import { KubeSource } from '../../lib/source/kube.ts';
import { TestApiServer } from '../support/apiserver/index.ts';
import { expectedVersions, seedCluster, service, startRig, waitFor } from './harness.ts';

test('initial list: every kind synced exactly once, selectors applied, state equals the server', async (t) => {
  const rig = await startRig({ seed: seedCluster });
  t.teardown(rig.close);
  await waitFor('all kinds synced', () => rig.recorder.synced.size === RESOURCE_KINDS.length);
  t.deepEqual(rig.recorder.versions(), expectedVersions(rig.server));
  t.false(rig.recorder.state.has('Service/default/other-proxy'));
  t.false(rig.recorder.state.has('Service/default/headless'));
  t.false(rig.recorder.state.has('Secret/default/opaque'));
  t.true(rig.recorder.state.has('Secret/default/cert'));
  // Objects are plain JSON as served: strings for timestamps, kind/apiVersion filled.
  const web = rig.recorder.state.get('Service/default/web')!;
  t.is(web.kind, 'Service');
  t.is(web.apiVersion, 'v1');
  t.is(typeof web.metadata.creationTimestamp, 'string');
  t.is(Object.getPrototypeOf(web), Object.prototype);

  rig.server.create(service('default', 'late'));
  rig.server.delete('Service', 'default', 'web');
  const withProxyLabel = rig.server.update({ ...service('default', 'late', { 'service.kubernetes.io/service-proxy-name': 'x' }) });
  t.truthy(withProxyLabel);
  // A label change that takes it out of the selector arrives as a delete.
  await waitFor('late service gone and web deleted', () => !rig.recorder.state.has('Service/default/web') &&
    rig.recorder.events.some((e) => e.type === 'delete' && e.key === 'default/late'));
  for (const kind of RESOURCE_KINDS) t.is(rig.recorder.synced.get(kind), 1, kind);
  t.deepEqual(rig.recorder.versions(), expectedVersions(rig.server));
  t.deepEqual(rig.recorder.duplicates, []);
});

test('synced waits for the list: no synced event while the server only fails', async (t) => {
  const rig = await startRig({ kinds: ['Service'], beforeStart: (s) => s.failNext(3, { pathIncludes: '/services' }) });
  t.teardown(rig.close);
  await waitFor('service synced', () => rig.recorder.synced.get('Service') === 1);
  const syncedIndex = rig.recorder.events.findIndex((e) => e.type === 'synced');
  t.is(rig.recorder.events.filter((e) => e.type === 'synced').length, 1);
  t.is(syncedIndex, rig.recorder.events.length - 1, 'synced comes after the listed objects (empty list here)');
  const warns = rig.logger.lines.filter((l) => l.level === 'warn');
  t.true(warns.length >= 3, `warn per failed attempt (got ${warns.length})`);
  t.regex(JSON.stringify(warns[0]!.fields), /127\.0\.0\.1/);
  t.regex(JSON.stringify(warns[0]!.fields), /HTTP 500/);
  t.true(rig.source.stats()[0]!.restarts >= 3);
});

test('403 Forbidden: Secrets count as listed and empty (then arrive once allowed); Services never do', async (t) => {
  const rig = await startRig({
    kinds: ['Service', 'Secret'],
    seed: seedCluster,
    beforeStart: (s) => s.failNext(1_000, { pathIncludes: '/secrets', status: 403 }),
  });
  t.teardown(rig.close);
  await waitFor('Secret synced though forbidden', () => rig.recorder.synced.get('Secret') === 1);
  t.false(rig.recorder.state.has('Secret/default/cert'), 'nothing listed yet');
  t.is(rig.logger.lines.filter((l) => l.level === 'error' && l.msg?.includes('listing Secrets is forbidden')).length, 1);
  rig.server.clearFailures();
  await waitFor('the Secret arrives once allowed', () => rig.recorder.state.has('Secret/default/cert'), 10_000);
  t.is(rig.recorder.synced.get('Secret'), 1, 'synced once, not again after the real list');

  const services = await startRig({ kinds: ['Service'], seed: seedCluster, beforeStart: (s) => s.failNext(1_000, { pathIncludes: '/services', status: 403 }) });
  t.teardown(services.close);
  await waitFor('a few forbidden attempts', () => services.source.stats()[0]!.restarts >= 2, 10_000);
  t.is(services.recorder.synced.get('Service'), undefined, 'a forbidden Service list is never taken for "no Services"');
});

test('--master with a plain http:// URL and no kubeconfig connects (kube-proxy insecure-port use)', async (t) => {
  const server = new TestApiServer();
  const url = await server.start();
  server.create(service('default', 'plain'));
  const seen: string[] = [];
  const source = new KubeSource({ masterUrl: url, kinds: ['Service'] });
  t.teardown(async () => {
    await source.stop();
    await server.stop();
  });
  const previous = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  try {
    await source.start((event) => {
      if (event.type === 'upsert') seen.push(event.key);
    });
  } finally {
    if (previous !== undefined) process.env.KUBERNETES_SERVICE_HOST = previous;
  }
  await waitFor('the Service over plain http', () => seen.includes('default/plain'), 5_000);
  t.deepEqual(seen, ['default/plain']);
});

test('with a node name only that Node is listed and watched (field selector), like kube-proxy', async (t) => {
  const node = (name: string, address: string) => ({
    kind: 'Node',
    metadata: { name },
    status: { addresses: [{ type: 'InternalIP', address }] },
  });
  const rig = await startRig({
    kinds: ['Node'],
    nodeName: 'node-2',
    seed: (s) => {
      s.create(node('node-1', '192.168.0.1'));
      s.create(node('node-2', '192.168.0.2'));
    },
  });
  t.teardown(rig.close);
  await waitFor('nodes synced', () => rig.recorder.synced.get('Node') === 1);
  t.deepEqual([...rig.recorder.state.keys()], ['Node/node-2']);
  // Another node's update never reaches this proxy; its own does.
  rig.server.update(node('node-1', '192.168.0.11'));
  rig.server.update(node('node-2', '192.168.0.12'));
  await waitFor('own node updated', () =>
    JSON.stringify(rig.recorder.state.get('Node/node-2')?.status).includes('192.168.0.12'));
  // Both updates go down the same watch in order: node-1's would have arrived first.
  t.false(rig.recorder.events.some((e) => e.type !== 'synced' && e.key === 'node-1'));
  // Finished requests only (the watch is still open): the list.
  const nodeRequests = rig.server.requests.filter((r) => r.url.startsWith('/api/v1/nodes'));
  t.true(nodeRequests.length >= 1);
  for (const r of nodeRequests) t.is(new URL(r.url, 'http://x').searchParams.get('fieldSelector'), 'metadata.name=node-2');
});
