import test from 'ava';
import { Backoff } from '../../../lib/source/kube/backoff.ts';
import { EmittedState } from '../../../lib/source/kube/emitted-state.ts';
import type { KubeObject } from '../../../lib/source/types.ts';
import { parseFieldSelector, parseLabelSelector } from '../../support/apiserver/selectors.ts';

const svc = (name: string, rv?: string): KubeObject => ({ metadata: { name, namespace: 'ns', ...(rv ? { resourceVersion: rv } : {}) } });
const summary = (events: ReturnType<EmittedState['reconcile']>) => events.map((e) => (e.type === 'synced' ? e.type : `${e.type} ${e.key}`));

test('upsert is emitted once per resourceVersion; unknown versions always pass', (t) => {
  const s = new EmittedState('Service');
  t.truthy(s.upsert(svc('a', '1')));
  t.is(s.upsert(svc('a', '1')), undefined);
  t.truthy(s.upsert(svc('a', '2')));
  t.truthy(s.upsert(svc('b')));
  t.truthy(s.upsert(svc('b')));
});

test('delete is emitted only for something emitted before', (t) => {
  const s = new EmittedState('Service');
  t.is(s.delete(svc('a', '3')), undefined);
  s.upsert(svc('a', '1'));
  t.deepEqual(s.delete(svc('a', '3')), { type: 'delete', kind: 'Service', key: 'ns/a', object: svc('a', '3') });
  t.is(s.delete(svc('a', '3')), undefined);
});

const reconcileCases: Array<[string, KubeObject[], KubeObject[], string[]]> = [
  ['first list upserts all', [], [svc('a', '1'), svc('b', '2')], ['upsert ns/a', 'upsert ns/b']],
  ['unchanged list emits nothing', [svc('a', '1')], [svc('a', '1')], []],
  ['changed version upserts', [svc('a', '1')], [svc('a', '5')], ['upsert ns/a']],
  ['vanished object deleted first', [svc('a', '1'), svc('b', '2')], [svc('b', '2'), svc('c', '7')], ['delete ns/a', 'upsert ns/c']],
  ['empty list deletes everything', [svc('a', '1')], [], ['delete ns/a']],
];
for (const [name, before, list, want] of reconcileCases) {
  test(`reconcile: ${name}`, (t) => {
    const s = new EmittedState('Service');
    for (const o of before) s.upsert(o);
    t.deepEqual(summary(s.reconcile(list)), want);
    t.deepEqual(summary(s.reconcile(list)), [], 'a second identical list is a no-op');
  });
}

test('backoff doubles with jitter in [d/2, d], caps, and resets after a healthy period', (t) => {
  const lows = new Backoff({ initialMs: 500, maxMs: 4000, resetAfterMs: 10_000, random: () => 0 });
  t.deepEqual([0, 1, 2, 3, 4, 5].map((i) => lows.next(i)), [250, 500, 1000, 2000, 2000, 2000]);
  t.is(lows.next(20_000), 250, 'reset after resetAfterMs without failures');
  const highs = new Backoff({ initialMs: 500, maxMs: 4000, resetAfterMs: 10_000, random: () => 1 });
  t.deepEqual([0, 1, 2, 3, 4].map((i) => highs.next(i)), [500, 1000, 2000, 4000, 4000]);
});

const labelCases: Array<[string, Record<string, string>, boolean]> = [
  ['a=b', { a: 'b' }, true],
  ['a==b', { a: 'c' }, false],
  ['a!=b', {}, true],
  ['a', { a: '' }, true],
  ['!a', { a: '' }, false],
  ['!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless', { app: 'x' }, true],
  ['!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless', { 'service.kubernetes.io/headless': '' }, false],
  ['env in (prod, staging)', { env: 'staging' }, true],
  ['env in (prod)', {}, false],
  ['env notin (prod)', {}, true],
  ['env notin (prod),tier=front', { env: 'dev', tier: 'front' }, true],
];
for (const [selector, labels, want] of labelCases) {
  test(`label selector ${JSON.stringify(selector)} on ${JSON.stringify(labels)}`, (t) => {
    t.is(parseLabelSelector(selector)(labels), want);
  });
}

test('field selectors: supported fields only, = and !=', (t) => {
  const tls = { metadata: { name: 'a', namespace: 'ns' }, type: 'kubernetes.io/tls' };
  t.true(parseFieldSelector('type=kubernetes.io/tls', 'Secret')(tls));
  t.false(parseFieldSelector('type!=kubernetes.io/tls', 'Secret')(tls));
  t.true(parseFieldSelector('metadata.name==a,metadata.namespace=ns', 'Service')(tls));
  t.throws(() => parseFieldSelector('type=x', 'Service'), { message: /field label not supported: type/ });
  t.throws(() => parseLabelSelector('bad key!=x'), { message: /invalid label key/ });
});
