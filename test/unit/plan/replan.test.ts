import test from 'ava';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';
import { ServiceState } from '../../../lib/state/service-state.ts';
import { planDesiredState, replanDesiredState, type PlanOptions } from '../../../lib/plan/plan.ts';
import { ep, nodeObject, serviceObject, sliceObject } from '../model/builders.ts';

const NODE = 'node-a';
const OPTIONS: PlanOptions = { nodeName: NODE, clusterCIDRs: ['10.244.0.0/16'], nodePortAddresses: undefined, masqueradeAll: false };

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;
const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({ type: 'upsert', kind, key: keyOf(object), object });
const remove = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({ type: 'delete', kind, key: keyOf(object), object });

/** Deterministic pseudo-random numbers. */
const rng = (seed: number) => () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

/** A Service with some variety: two ports, dual-stack, NodePort/eTP Local, affinity. */
const service = (i: number, rand: () => number): KubeObject => {
  const dual = rand() < 0.3;
  const ports = [{ name: 'http', port: 80, protocol: 'TCP', ...(rand() < 0.3 ? { nodePort: 30000 + i } : {}) }];
  if (rand() < 0.3) ports.push({ name: 'dns', port: 53, protocol: 'UDP' });
  return serviceObject(`s${i}`, {
    type: ports.some((p) => 'nodePort' in p) ? 'NodePort' : 'ClusterIP',
    clusterIP: `10.96.0.${i}`,
    clusterIPs: dual ? [`10.96.0.${i}`, `fd00::${i}`] : [`10.96.0.${i}`],
    ipFamilies: dual ? ['IPv4', 'IPv6'] : ['IPv4'],
    ports,
    ...(rand() < 0.2 ? { externalTrafficPolicy: 'Local' } : {}),
    ...(rand() < 0.2 ? { sessionAffinity: 'ClientIP' } : {}),
  });
};

const slice = (i: number, rand: () => number): KubeObject => {
  const n = Math.floor(rand() * 5);
  return sliceObject(`s${i}-a`, `s${i}`, {
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 5353, protocol: 'UDP' },
    ],
    endpoints: Array.from({ length: n }, (_, j) =>
      ep(`10.244.${i}.${j + 1}`, { nodeName: rand() < 0.5 ? NODE : 'node-b', conditions: { ready: rand() < 0.8 } }),
    ),
  });
};

for (const seed of [1, 2, 3, 4]) {
  test(`incremental planning equals a full plan after every commit (seed ${seed})`, (t) => {
    const rand = rng(seed);
    const state = new ServiceState({ nodeName: NODE });
    state.apply(upsert('Node', nodeObject(NODE, { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] })));
    for (let i = 1; i <= 20; i++) {
      state.apply(upsert('Service', service(i, rand)));
      state.apply(upsert('EndpointSlice', slice(i, rand)));
    }
    let desired = planDesiredState(state.commit().snapshot, OPTIONS);
    let reused = 0;
    for (let step = 0; step < 80; step++) {
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const i = 1 + Math.floor(rand() * 25);
        const roll = rand();
        if (roll < 0.15) state.apply(remove('Service', service(i, rand)));
        else if (roll < 0.25) state.apply(remove('EndpointSlice', slice(i, rand)));
        else if (roll < 0.5) state.apply(upsert('Service', service(i, rand)));
        else state.apply(upsert('EndpointSlice', slice(i, rand)));
      }
      const { snapshot, changed, nodeChanged } = state.commit();
      t.false(nodeChanged);
      const next = replanDesiredState(desired, snapshot, OPTIONS, changed);
      t.deepEqual(next, planDesiredState(snapshot, OPTIONS), `step ${step}`);
      // Plans of unchanged service ports are the very same objects.
      const before = new Map(desired.services.map((p) => [p.id, p]));
      for (const p of next.services) if (!changed.has(p.servicePort) && before.get(p.id) === p) reused++;
      desired = next;
    }
    t.true(reused > 0);
  });
}

test('nothing changed: the previous state is returned as it is', (t) => {
  const state = new ServiceState({ nodeName: NODE });
  state.apply(upsert('Service', serviceObject('web', {})));
  const desired = planDesiredState(state.commit().snapshot, OPTIONS);
  const { snapshot, changed } = state.commit();
  t.is(replanDesiredState(desired, snapshot, OPTIONS, changed), desired);
});
