import test from 'ava';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';
import { endpointsFor, ServiceState } from '../../../lib/state/service-state.ts';
import { ChangeTracker } from '../../../lib/state/change-tracker.ts';
import { ep, nodeObject, serviceObject, sliceObject } from '../model/builders.ts';

const NODE = 'node-a';
const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({
  type: 'upsert',
  kind,
  key: object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name,
  object,
});
const remove = (kind: SourceEvent['kind'], key: string): SourceEvent => ({ type: 'delete', kind, key });
const svc = (name = 'web', spec: Record<string, unknown> = {}) => upsert('Service', serviceObject(name, spec));
const slc = (name: string, service: string, ips: string[], port = 8080) =>
  upsert('EndpointSlice', sliceObject(name, service, { ports: [{ name: 'http', port }], endpoints: ips.map((ip) => ep(ip)) }));

const fresh = (...events: SourceEvent[]): ServiceState => {
  const state = new ServiceState({ nodeName: NODE });
  for (const e of events) {
    const rejection = state.apply(e);
    if (rejection) throw new Error(`unexpected rejection: ${rejection.reason}`);
  }
  return state;
};

test('synced only once Services AND EndpointSlices have both said so', (t) => {
  const state = fresh();
  t.false(state.synced);
  state.apply({ type: 'synced', kind: 'Service' });
  state.apply({ type: 'synced', kind: 'Node' });
  t.false(state.synced);
  state.apply({ type: 'synced', kind: 'EndpointSlice' });
  t.true(state.synced);
});

test('a Service and its slice commit into a snapshot; changed names the new service port', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.244.1.5', '10.244.2.5']));
  t.true(state.hasPendingChanges());
  t.is(state.snapshot.services.size, 0, 'nothing visible before commit');
  const { snapshot, changed, nodeChanged } = state.commit();
  t.deepEqual([...changed], ['default/web:http']);
  t.false(nodeChanged);
  t.is(snapshot.services.get('default/web:http')?.clusterIPs[0], '10.96.0.10');
  t.deepEqual(endpointsFor(snapshot, 'default/web:http').map((e) => `${e.ip}:${e.port}`), ['10.244.1.5:8080', '10.244.2.5:8080']);
  t.is(state.snapshot, snapshot);
  t.false(state.hasPendingChanges());
});

test('an update whose conversion equals the committed one leaves nothing pending', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.244.1.5']));
  state.commit();
  // Different resourceVersion / unused fields / annotations: same ServicePorts, same endpoints.
  const svcObject = serviceObject('web', {});
  state.apply(upsert('Service', { ...svcObject, metadata: { ...svcObject.metadata, resourceVersion: '99', annotations: { a: 'b' } } }));
  state.apply(slc('web-1', 'web', ['10.244.1.5']));
  t.false(state.hasPendingChanges());
  t.deepEqual([...state.commit().changed], []);
});

test('add then delete before any commit leaves nothing pending', (t) => {
  const state = fresh(svc('tmp'), slc('tmp-1', 'tmp', ['10.0.0.1']), remove('Service', 'default/tmp'), remove('EndpointSlice', 'default/tmp-1'));
  t.false(state.hasPendingChanges());
  const { snapshot, changed } = state.commit();
  t.is(changed.size, 0);
  t.is(snapshot.services.size, 0);
});

test('change then change back before commit leaves nothing pending', (t) => {
  const state = fresh(svc());
  state.commit();
  state.apply(svc('web', { clusterIP: '10.96.0.99' }));
  t.true(state.hasPendingChanges());
  state.apply(svc());
  t.false(state.hasPendingChanges());
});

test('deleting an object that was never seen changes nothing', (t) => {
  const state = fresh(remove('Service', 'default/ghost'), remove('EndpointSlice', 'default/ghost-1'), remove('Node', NODE));
  t.false(state.hasPendingChanges());
});

test('an invalid update is rejected and the previous valid version stays in effect', (t) => {
  const state = fresh(svc());
  state.commit();
  const rejection = state.apply(svc('web', { ports: [{ name: 'http', port: 0 }] }));
  t.like(rejection, { kind: 'Service', key: 'default/web' });
  t.regex(rejection?.reason ?? '', /spec\.ports\[0\]\.port/);
  t.false(state.hasPendingChanges());
  t.is(state.commit().snapshot.services.get('default/web:http')?.port, 80);
});

test('an invalid update does not discard a valid pending one', (t) => {
  const state = fresh(svc());
  state.commit();
  state.apply(svc('web', { clusterIP: '10.96.0.99' }));
  t.truthy(state.apply(upsert('EndpointSlice', sliceObject('web-1', 'web', { endpoints: [ep('nonsense')] }))));
  t.truthy(state.apply(svc('web', { externalIPs: ['nonsense'] })));
  t.is(state.commit().snapshot.services.get('default/web:http')?.clusterIPs[0], '10.96.0.99');
});

test('an invalid first version is rejected and nothing is recorded', (t) => {
  const state = fresh();
  const rejection = state.apply(upsert('EndpointSlice', sliceObject('web-1', 'web', { endpoints: [ep('fd00::1')] })));
  t.like(rejection, { kind: 'EndpointSlice', key: 'default/web-1' });
  t.false(state.hasPendingChanges());
});

test('an endpoint change marks only that Service\'s ports as changed', (t) => {
  const state = fresh(svc('a'), svc('b'), slc('a-1', 'a', ['10.0.0.1']), slc('b-1', 'b', ['10.0.1.1']));
  state.commit();
  state.apply(slc('a-1', 'a', ['10.0.0.1', '10.0.0.2']));
  const { changed, snapshot } = state.commit();
  t.deepEqual([...changed], ['default/a:http']);
  t.is(endpointsFor(snapshot, 'default/a:http').length, 2);
});

test('a port removed from a Service is in changed and gone from both maps', (t) => {
  const state = fresh(
    svc('web', { ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }),
    upsert('EndpointSlice', sliceObject('web-1', 'web', { ports: [{ name: 'http', port: 8080 }, { name: 'https', port: 8443 }], endpoints: [ep('10.0.0.1')] })),
  );
  state.commit();
  state.apply(svc('web', { ports: [{ name: 'http', port: 80 }] }));
  const { changed, snapshot } = state.commit();
  t.deepEqual([...changed], ['default/web:https']);
  t.false(snapshot.services.has('default/web:https'));
  t.false(snapshot.endpoints.has('default/web:https'));
  t.true(snapshot.endpoints.has('default/web:http'));
});

test('deleting a Service removes its ports; its slices stay tracked for when it comes back', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.0.0.1']));
  state.commit();
  state.apply(remove('Service', 'default/web'));
  const removed = state.commit();
  t.deepEqual([...removed.changed], ['default/web:http']);
  t.is(removed.snapshot.services.size, 0);
  t.is(removed.snapshot.endpoints.size, 0);
  state.apply(svc());
  const back = state.commit();
  t.deepEqual([...back.changed], ['default/web:http']);
  t.is(endpointsFor(back.snapshot, 'default/web:http').length, 1);
});

test('endpoints without a Service are not in the snapshot until the Service appears', (t) => {
  const state = fresh(slc('web-1', 'web', ['10.0.0.1']));
  const first = state.commit();
  t.is(first.snapshot.endpoints.size, 0);
  t.is(first.changed.size, 0);
  state.apply(svc());
  t.deepEqual([...state.commit().changed], ['default/web:http']);
});

test('a slice moving to another Service (label change) changes both', (t) => {
  const state = fresh(svc('a'), svc('b'), slc('s-1', 'a', ['10.0.0.1']));
  state.commit();
  state.apply(slc('s-1', 'b', ['10.0.0.1']));
  const { changed, snapshot } = state.commit();
  t.deepEqual([...changed].sort(), ['default/a:http', 'default/b:http']);
  t.is(endpointsFor(snapshot, 'default/a:http').length, 0);
  t.is(endpointsFor(snapshot, 'default/b:http').length, 1);
});

test('a slice losing its service-name label drops its endpoints', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.0.0.1']));
  state.commit();
  state.apply(upsert('EndpointSlice', sliceObject('web-1', undefined, { endpoints: [ep('10.0.0.1')] })));
  const { changed, snapshot } = state.commit();
  t.deepEqual([...changed], ['default/web:http']);
  t.is(snapshot.endpoints.size, 0);
});

test('a Service turning headless disappears from the snapshot', (t) => {
  const state = fresh(svc());
  state.commit();
  state.apply(svc('web', { clusterIP: 'None' }));
  const { changed, snapshot } = state.commit();
  t.deepEqual([...changed], ['default/web:http']);
  t.is(snapshot.services.size, 0);
});

test('duplicate endpoints across two slices of one Service appear once', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.0.0.1', '10.0.0.2']), slc('web-2', 'web', ['10.0.0.2', '10.0.0.3']));
  const { snapshot } = state.commit();
  t.deepEqual(endpointsFor(snapshot, 'default/web:http').map((e) => e.ip), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
});

test('committed snapshots are immutable: a later commit does not alter an earlier snapshot', (t) => {
  const state = fresh(svc(), slc('web-1', 'web', ['10.0.0.1']));
  const first = state.commit().snapshot;
  state.apply(slc('web-1', 'web', ['10.0.0.9']));
  state.apply(svc('other'));
  const second = state.commit().snapshot;
  t.not(first, second);
  t.deepEqual(endpointsFor(first, 'default/web:http').map((e) => e.ip), ['10.0.0.1']);
  t.false(first.services.has('default/other:http'));
  t.true(Object.isFrozen(first));
});

test('unchanged entries are shared between snapshots', (t) => {
  const state = fresh(svc('a'), svc('b'), slc('a-1', 'a', ['10.0.0.1']));
  const first = state.commit().snapshot;
  state.apply(svc('b', { clusterIP: '10.96.0.99' }));
  const second = state.commit().snapshot;
  t.is(second.services.get('default/a:http'), first.services.get('default/a:http'));
  t.is(second.endpoints.get('default/a:http'), first.endpoints.get('default/a:http'));
});

test('Node events: only this node matters; no-op updates drop; nodeChanged reports it', (t) => {
  const state = fresh();
  t.is(state.apply(upsert('Node', nodeObject('node-b'))), undefined);
  t.false(state.hasPendingChanges(), 'another node is ignored');
  state.apply(upsert('Node', nodeObject(NODE, { labels: { 'topology.kubernetes.io/zone': 'z1' } })));
  const first = state.commit();
  t.true(first.nodeChanged);
  t.is(first.snapshot.node?.zone, 'z1');
  state.apply(upsert('Node', nodeObject(NODE, { labels: { 'topology.kubernetes.io/zone': 'z1' } })));
  t.false(state.hasPendingChanges());
  const invalid = state.apply(upsert('Node', nodeObject(NODE, { addresses: [{ type: 'InternalIP', address: 'bad' }] })));
  t.like(invalid, { kind: 'Node', key: NODE });
  state.apply(remove('Node', NODE));
  const gone = state.commit();
  t.true(gone.nodeChanged);
  t.is(gone.snapshot.node, undefined);
});

test('kinds the state does not use are ignored', (t) => {
  const state = fresh();
  t.is(state.apply({ type: 'upsert', kind: 'Ingress', key: 'default/x', object: { metadata: { name: 'x' } } }), undefined);
  t.is(state.apply({ type: 'upsert', kind: 'Secret', key: 'default/x', object: { metadata: { name: 'x' } } }), undefined);
  t.false(state.hasPendingChanges());
});

test('isLocal follows the nodeName given to the state', (t) => {
  const state = fresh(
    svc(),
    upsert('EndpointSlice', sliceObject('web-1', 'web', { endpoints: [ep('10.0.0.1', { nodeName: NODE }), ep('10.0.0.2', { nodeName: 'node-b' })] })),
  );
  t.deepEqual(endpointsFor(state.commit().snapshot, 'default/web:http').map((e) => e.isLocal), [true, false]);
});

test('ChangeTracker keeps the first previous across several pending updates', (t) => {
  const tracker = new ChangeTracker<number>();
  tracker.update('k', 1);
  tracker.checkout();
  tracker.update('k', 2);
  tracker.update('k', 3);
  t.deepEqual([...tracker.checkout()], [['k', { previous: 1, current: 3 }]]);
  t.is(tracker.committed('k'), 3);
  tracker.update('k', undefined);
  t.is(tracker.latest('k'), undefined);
  t.is(tracker.committed('k'), 3);
  tracker.checkout();
  t.is(tracker.committed('k'), undefined);
});
