import test from 'ava';
import { ManifestIndex, type FileContribution } from '../../../lib/source/manifests/manifest-index.ts';
import { parseManifestText } from '../../../lib/source/manifests/parse.ts';
import type { SourceEvent } from '../../../lib/source/types.ts';

const svc = (name: string, port = 80) => `kind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: ${port}}]}\n---\n`;
const file = (text: string, complete = true): FileContribution => ({ objects: parseManifestText('x', text, 'yaml').objects, complete });
const summary = (events: readonly SourceEvent[]): string[] =>
  events.map((e) => (e.type === 'synced' ? `synced ${e.kind}` : `${e.type} ${e.kind} ${e.key}`));
const portOf = (e: SourceEvent | undefined): unknown =>
  e && e.type === 'upsert' ? (e.object['spec'] as { ports: { port: number }[] }).ports[0]!.port : undefined;

test('new file → upserts; same content again → nothing; file gone → deletes', (t) => {
  const index = new ManifestIndex();
  t.deepEqual(summary(index.apply(new Map([['a.yaml', file(svc('a') + svc('b'))]])).events), ['upsert Service default/a', 'upsert Service default/b']);
  t.deepEqual(index.apply(new Map([['a.yaml', file(svc('a') + svc('b'))]])).events, []);
  t.deepEqual(summary(index.apply(new Map([['a.yaml', null]])).events), ['delete Service default/a', 'delete Service default/b']);
  t.deepEqual(index.objects(), []);
});

test('an object gone from a file that still exists is deleted; a changed one is upserted', (t) => {
  const index = new ManifestIndex();
  index.apply(new Map([['a.yaml', file(svc('a') + svc('b'))]]));
  const events = index.apply(new Map([['a.yaml', file(svc('a', 81))]])).events;
  t.deepEqual(summary(events).sort(), ['delete Service default/b', 'upsert Service default/a']);
  t.is(portOf(events.find((e) => e.type === 'upsert')), 81);
});

test('an object moved between files in one batch is not deleted (and not re-sent when identical)', (t) => {
  const index = new ManifestIndex();
  index.apply(new Map([['a.yaml', file(svc('a') + svc('b'))], ['c.yaml', file(svc('c'))]]));
  const moved = index.apply(new Map([['a.yaml', file(svc('a'))], ['c.yaml', file(svc('c') + svc('b'))]]));
  t.deepEqual(moved.events, []);
  t.deepEqual(moved.duplicates, []);
  // The old file deleted, the object now only in c.yaml: still no event.
  t.deepEqual(index.apply(new Map([['a.yaml', null]])).events.map((e) => e.type), ['delete']);
  t.deepEqual(index.objects().map((o) => o.id).sort(), ['Service/default/b', 'Service/default/c']);
});

test('duplicates: the most recent writer wins; removing it falls back to the other file', (t) => {
  const index = new ManifestIndex();
  const first = index.apply(new Map([['a.yaml', file(svc('x', 1))], ['b.yaml', file(svc('x', 2))]]));
  t.is(portOf(first.events[0]), 2, 'on the first scan the later file name wins');
  t.deepEqual(first.duplicates, [{ id: 'Service/default/x', files: ['a.yaml', 'b.yaml'] }]);
  const rewrite = index.apply(new Map([['a.yaml', file(svc('x', 3))]]));
  t.is(portOf(rewrite.events[0]), 3, 'a.yaml was written last');
  const fallback = index.apply(new Map([['a.yaml', null]]));
  t.is(portOf(fallback.events[0]), 2);
  t.deepEqual(fallback.duplicates, []);
});

test('a file with problems keeps what its previous version contributed but still applies changes', (t) => {
  const index = new ManifestIndex();
  index.apply(new Map([['a.yaml', file(svc('a') + svc('b'))]]));
  const events = index.apply(new Map([['a.yaml', file(svc('a', 99), false)]])).events;
  t.deepEqual(summary(events), ['upsert Service default/a']);
  t.deepEqual(index.objects().map((o) => o.id).sort(), ['Service/default/a', 'Service/default/b']);
  // Fixed later without b: now b goes.
  t.deepEqual(summary(index.apply(new Map([['a.yaml', file(svc('a', 99))]])).events), ['delete Service default/b']);
});

test('delete events carry the last known object', (t) => {
  const index = new ManifestIndex();
  index.apply(new Map([['a.yaml', file(svc('a', 7))]]));
  const [event] = index.apply(new Map([['a.yaml', null]])).events;
  t.is(event?.type, 'delete');
  t.is(event?.type === 'delete' ? (event.object?.['spec'] as { ports: { port: number }[] }).ports[0]!.port : 0, 7);
});
