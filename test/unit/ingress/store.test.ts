import test from 'ava';
import { IngressStore } from '../../../lib/ingress/store.ts';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';
import { ingress, ourClass, tlsSecret } from './fixtures.ts';

const upsert = (kind: 'Ingress' | 'IngressClass' | 'Secret' | 'Service', key: string, object: unknown): SourceEvent => ({
  type: 'upsert',
  kind,
  key,
  object: object as KubeObject,
});

test('stores valid objects and reports changes once (no-op updates are dropped)', (t) => {
  const store = new IngressStore();
  const ing = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', ...ingress({}), status: { loadBalancer: {} } };
  t.deepEqual(store.apply(upsert('Ingress', 'default/ing', ing)), { changed: true });
  t.deepEqual(store.apply(upsert('Ingress', 'default/ing', { ...ing, status: { x: 1 } })), { changed: false });
  t.is(store.ingresses().length, 1);
  t.deepEqual(store.apply(upsert('IngressClass', 'switchyard', ourClass())), { changed: true });
  t.is(store.ingressClasses()[0]?.spec?.controller, 'switchyard.io/ingress-controller');
  t.deepEqual(store.apply({ type: 'delete', kind: 'Ingress', key: 'default/ing' }), { changed: true });
  t.deepEqual(store.apply({ type: 'delete', kind: 'Ingress', key: 'default/ing' }), { changed: false });
  t.is(store.ingresses().length, 0);
});

const invalid: readonly [string, 'Ingress' | 'IngressClass' | 'Secret', unknown, string][] = [
  ['Ingress without spec', 'Ingress', { metadata: { name: 'a', namespace: 'n' } }, 'spec'],
  ['Ingress with a bad pathType', 'Ingress', { metadata: { name: 'a', namespace: 'n' }, spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Regex', backend: {} }] } }] } }, 'pathType'],
  ['Ingress port with both name and number', 'Ingress', { metadata: { name: 'a', namespace: 'n' }, spec: { defaultBackend: { service: { name: 's', port: { name: 'x', number: 80 } } } } }, 'exactly one'],
  ['Ingress port out of range', 'Ingress', { metadata: { name: 'a', namespace: 'n' }, spec: { defaultBackend: { service: { name: 's', port: { number: 70000 } } } } }, 'port.number'],
  ['Ingress without namespace', 'Ingress', { metadata: { name: 'a' }, spec: {} }, 'metadata.namespace'],
  ['IngressClass with a numeric controller', 'IngressClass', { metadata: { name: 'c' }, spec: { controller: 5 } }, 'spec.controller'],
  ['Secret with non-string data', 'Secret', { metadata: { name: 's', namespace: 'n' }, data: { 'tls.crt': 1 } }, 'data.tls.crt'],
];

for (const [name, kind, object, where] of invalid) {
  test(`rejects ${name} with a reason`, (t) => {
    const store = new IngressStore();
    const result = store.apply(upsert(kind, 'n/a', object));
    t.is(result.rejection?.kind, kind);
    t.true(result.rejection?.reason.includes(where), result.rejection?.reason);
    t.false(result.changed);
  });
}

test('an object that turns invalid is dropped (changed), not kept stale', (t) => {
  const store = new IngressStore();
  store.apply(upsert('Ingress', 'default/ing', ingress({})));
  const r = store.apply(upsert('Ingress', 'default/ing', { metadata: { name: 'ing', namespace: 'default' }, spec: 'x' }));
  t.true(r.changed);
  t.truthy(r.rejection);
  t.is(store.ingresses().length, 0);
});

test('other kinds are ignored', (t) => {
  const store = new IngressStore();
  t.deepEqual(store.apply(upsert('Service', 'default/s', { metadata: { name: 's' } })), { changed: false });
});

test('synced once Ingresses, IngressClasses and Secrets are all listed; the last of them is the change', (t) => {
  const store = new IngressStore();
  const steps = (['Ingress', 'Service', 'IngressClass', 'Ingress', 'Secret', 'Secret'] as const).map((kind) => [
    kind,
    store.apply({ type: 'synced', kind }).changed,
    store.synced,
  ]);
  t.deepEqual(steps, [
    ['Ingress', false, false],
    ['Service', false, false],
    ['IngressClass', false, false],
    ['Ingress', false, false],
    ['Secret', true, true],
    ['Secret', false, true],
  ]);
});

test('Secrets: only TLS keys are kept; a Secret without them is not stored', (t) => {
  const store = new IngressStore();
  const r1 = store.apply(upsert('Secret', 'default/token', { metadata: { name: 'token', namespace: 'default' }, data: { token: 'c2VjcmV0' } }));
  t.deepEqual(r1, { changed: false });
  t.is(store.secrets().size, 0);
  store.apply(upsert('Secret', 'default/tls', {
    metadata: { name: 'tls', namespace: 'default' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5', 'ca.crt': 'Y2E=', password: 'cA==' },
  }));
  t.deepEqual(store.secrets().get('default/tls')?.data, { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' });
  // Losing its TLS keys removes it.
  const r2 = store.apply(upsert('Secret', 'default/tls', { metadata: { name: 'tls', namespace: 'default' }, data: {} }));
  t.true(r2.changed);
  t.is(store.secrets().size, 0);
});

test('synced: after Ingresses, IngressClasses and Secrets are listed; without Secrets (no HTTPS listener) after the first two', (t) => {
  const listed = (store: IngressStore, kinds: readonly ('Ingress' | 'IngressClass' | 'Secret')[]): boolean[] =>
    kinds.map((kind) => (store.apply({ type: 'synced', kind }), store.synced));
  t.deepEqual(listed(new IngressStore(), ['Ingress', 'IngressClass', 'Secret']), [false, false, true]);
  const withoutSecrets = new IngressStore({ withSecrets: false });
  t.deepEqual(listed(withoutSecrets, ['Ingress', 'IngressClass']), [false, true]);
  // Secrets still arriving (a manifests directory holds every kind) are kept.
  t.deepEqual(withoutSecrets.apply(upsert('Secret', 'default/c', tlsSecret('c', 'CERT', 'KEY'))), { changed: true });
});
