import test from 'ava';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';
import { ServiceState } from '../../../lib/state/service-state.ts';
import { ep, nodeObject, serviceObject, sliceObject } from '../model/builders.ts';

const NODE = 'node-a';
const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({
  type: 'upsert',
  kind,
  key: object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name,
  object,
});
const slice = (ips: string[]) => upsert('EndpointSlice', sliceObject('web-1', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ep(ip)) }));

/** What a commit without any service-port change does to the snapshot's maps: they stay the same objects. */
const cases: { title: string; events: SourceEvent[] }[] = [
  { title: 'an empty commit', events: [] },
  { title: 'a Node change only', events: [upsert('Node', nodeObject(NODE, { labels: { 'topology.kubernetes.io/zone': 'z1' } }))] },
  { title: 'a slice rewritten with the same endpoints', events: [slice(['10.244.1.9', '10.244.1.5'])] },
];

for (const c of cases) {
  test(`${c.title}: the snapshot keeps its maps`, (t) => {
    const state = new ServiceState({ nodeName: NODE });
    state.apply(upsert('Service', serviceObject('web', {})));
    state.apply(slice(['10.244.1.5', '10.244.1.9']));
    const before = state.commit().snapshot;
    for (const e of c.events) state.apply(e);
    const { snapshot, changed } = state.commit();
    t.is(changed.size, 0);
    t.is(snapshot.services, before.services);
    t.is(snapshot.endpoints, before.endpoints);
  });
}

test('a changed service port gets new maps; the old snapshot is left as it was', (t) => {
  const state = new ServiceState({ nodeName: NODE });
  state.apply(upsert('Service', serviceObject('web', {})));
  state.apply(slice(['10.244.1.5']));
  const before = state.commit().snapshot;
  const oldEndpoints = before.endpoints.get('default/web:http');
  state.apply(slice(['10.244.1.6']));
  const { snapshot, changed } = state.commit();
  t.deepEqual([...changed], ['default/web:http']);
  t.not(snapshot.endpoints, before.endpoints);
  t.is(before.endpoints.get('default/web:http'), oldEndpoints);
  t.is(snapshot.endpoints.get('default/web:http')?.[0]?.ip, '10.244.1.6');
});
