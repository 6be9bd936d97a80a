import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DirectoryScanner } from '../../../lib/source/manifests/directory-scanner.ts';
import { loadManifestsOnce, ManifestsSource, type ManifestProblem } from '../../../lib/source/manifests.ts';
import { RESOURCE_KINDS, type SourceEvent } from '../../../lib/source/types.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

/** The contract: a change in the directory takes effect within 2 s. */
const DEADLINE_MS = 2000;

const svc = (name: string, port = 80, ns = 'default') =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  ports: [{port: ${port}}]\n---\n`;

interface Harness {
  readonly dir: string;
  readonly events: SourceEvent[];
  readonly source: ManifestsSource;
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly problems: ManifestProblem[];
  /** Resolves with the events that arrived after `from` once `done` holds for them; fails after the 2 s deadline. */
  until(from: number, done: (events: readonly SourceEvent[]) => boolean): Promise<readonly SourceEvent[]>;
}

const upserted = (events: readonly SourceEvent[], key: string): SourceEvent | undefined =>
  events.findLast((e) => e.type === 'upsert' && e.key === key);
const deleted = (events: readonly SourceEvent[], key: string): boolean => events.some((e) => e.type === 'delete' && e.key === key);
const portOf = (e: SourceEvent | undefined): number | undefined =>
  e?.type === 'upsert' ? (e.object['spec'] as { ports: { port: number }[] }).ports[0]!.port : undefined;

const start = async (files: Record<string, string>, options: { rescanIntervalMs?: number; createDir?: boolean; watch?: boolean } = {}): Promise<Harness> => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-manifests-'));
  const dir = join(root, 'manifests');
  if (options.createDir !== false) {
    await mkdir(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  }
  const events: SourceEvent[] = [];
  const problems: ManifestProblem[] = [];
  const logger = recordingLogger();
  const source = new ManifestsSource({
    dir,
    logger,
    rescanIntervalMs: options.rescanIntervalMs ?? 1000,
    watch: options.watch ?? true,
    onInvalidDocument: (p) => problems.push(p),
  });
  await source.start((e) => events.push(e));
  const until = async (from: number, done: (events: readonly SourceEvent[]) => boolean) => {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const recent = events.slice(from);
      if (done(recent)) return recent;
      if (Date.now() > deadline) throw new Error(`not within ${DEADLINE_MS} ms; events: ${JSON.stringify(recent.map((e) => e.type === 'synced' ? e.type : `${e.type} ${e.key}`))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { dir, events, source, logger, problems, until };
};

const cleanup = async (h: Harness) => {
  await h.source.stop();
  await rm(join(h.dir, '..'), { recursive: true, force: true });
};

test('initial load: objects from yaml, yml and json files, then synced for every kind', async (t) => {
  const h = await start({
    'a.yaml': svc('a') + svc('b', 80, 'shop'),
    'b.yml': 'apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n',
    'c.json': JSON.stringify({ kind: 'List', items: [{ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'sy' } }] }),
    'notes.txt': 'kind: Service\nmetadata: {name: ignored}\n',
    '.hidden.yaml': svc('hidden'),
  });
  try {
    const keys = h.events.filter((e) => e.type === 'upsert').map((e) => (e.type === 'upsert' ? `${e.kind} ${e.key}` : ''));
    t.deepEqual(keys.sort(), ['IngressClass sy', 'Node node-a', 'Service default/a', 'Service shop/b']);
    const synced = h.events.filter((e) => e.type === 'synced').map((e) => e.kind);
    t.deepEqual(synced, [...RESOURCE_KINDS]);
    t.is(h.events.findIndex((e) => e.type === 'synced'), 4, 'synced comes after the initial objects');
  } finally {
    await cleanup(h);
  }
});

test('a new file, an in-place change, an object removed from a file and a deleted file each land within 2 s', async (t) => {
  const h = await start({ 'a.yaml': svc('a') + svc('b') });
  try {
    let mark = h.events.length;
    await writeFile(join(h.dir, 'new.yaml'), svc('c'));
    await h.until(mark, (ev) => upserted(ev, 'default/c') !== undefined);

    mark = h.events.length;
    await writeFile(join(h.dir, 'a.yaml'), svc('a', 8080) + svc('b'));
    const changed = await h.until(mark, (ev) => portOf(upserted(ev, 'default/a')) === 8080);
    t.false(changed.some((e) => e.type !== 'synced' && e.key === 'default/b'), 'unchanged object not re-sent');

    mark = h.events.length;
    await writeFile(join(h.dir, 'a.yaml'), svc('a', 8080));
    await h.until(mark, (ev) => deleted(ev, 'default/b'));

    mark = h.events.length;
    await unlink(join(h.dir, 'new.yaml'));
    await h.until(mark, (ev) => deleted(ev, 'default/c'));
    t.false(h.events.some((e) => e.type === 'delete' && e.key === 'default/a'));
  } finally {
    await cleanup(h);
  }
});

test('a file renamed into the directory (atomic editor save) lands within 2 s', async (t) => {
  const h = await start({});
  try {
    const outside = join(h.dir, '..', 'staging.yaml');
    await writeFile(outside, svc('moved-in'));
    const mark = h.events.length;
    await rename(outside, join(h.dir, 'moved-in.yaml'));
    await h.until(mark, (ev) => upserted(ev, 'default/moved-in') !== undefined);
    // Replace via a temp file + rename over the old one, as editors do.
    const tmp = join(h.dir, '.moved-in.yaml.swp');
    await writeFile(tmp, svc('moved-in', 9090));
    const mark2 = h.events.length;
    await rename(tmp, join(h.dir, 'moved-in.yaml'));
    await h.until(mark2, (ev) => portOf(upserted(ev, 'default/moved-in')) === 9090);
    t.false(h.events.some((e) => e.type === 'delete'));
  } finally {
    await cleanup(h);
  }
});

test('a renamed file (same objects, new name) deletes nothing', async (t) => {
  const h = await start({ 'a.yaml': svc('a') });
  try {
    await rename(join(h.dir, 'a.yaml'), join(h.dir, 'b.yaml'));
    await new Promise((r) => setTimeout(r, 1500));
    t.false(h.events.some((e) => e.type === 'delete'), JSON.stringify(h.events.map((e) => e.type)));
  } finally {
    await cleanup(h);
  }
});

test('a broken document is skipped with a warning naming file and index; the rest keeps working', async (t) => {
  const h = await start({ 'a.yaml': svc('a') + svc('b'), 'other.yaml': svc('other') });
  try {
    const mark = h.events.length;
    await writeFile(join(h.dir, 'a.yaml'), `${svc('a', 81)}kind: Service\nmetadata:\n  name: [broken\n---\n${svc('c')}`);
    const ev = await h.until(mark, (e) => upserted(e, 'default/a') !== undefined && upserted(e, 'default/c') !== undefined);
    t.is(portOf(upserted(ev, 'default/a')), 81);
    t.false(deleted(h.events, 'default/b'), 'b came from the previous valid version of the broken file: kept');
    t.false(deleted(h.events, 'default/other'));
    const warn = h.logger.lines.find((l) => l.level === 'warn' && l.msg?.includes('document 1 (0-based)'));
    t.truthy(warn, JSON.stringify(h.logger.lines));
    t.true(warn!.msg!.includes(join(h.dir, 'a.yaml')));
    t.deepEqual(h.problems.map((p) => [p.document, p.file]), [[1, join(h.dir, 'a.yaml')]]);

    // A wholly unparsable file keeps everything it defined.
    const mark2 = h.events.length;
    await writeFile(join(h.dir, 'other.yaml'), '{{{ not yaml');
    await writeFile(join(h.dir, 'probe.yaml'), svc('probe'));
    await h.until(mark2, (e) => upserted(e, 'default/probe') !== undefined);
    t.false(deleted(h.events, 'default/other'));
  } finally {
    await cleanup(h);
  }
});

test('ignored kinds and non-TLS secrets produce no events and no warnings', async (t) => {
  const h = await start({
    'misc.yaml':
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: pw}\ntype: Opaque\n---\n' +
      'apiVersion: v1\nkind: Secret\nmetadata: {name: cert}\ntype: kubernetes.io/tls\ndata: {tls.crt: "", tls.key: ""}\n',
  });
  try {
    t.deepEqual(h.events.filter((e) => e.type === 'upsert').map((e) => (e.type === 'upsert' ? `${e.kind} ${e.key}` : '')), ['Secret default/cert']);
    t.deepEqual(h.logger.lines.filter((l) => l.level === 'warn'), []);
    t.is(h.logger.lines.filter((l) => l.level === 'debug' && l.msg?.includes('ignoring')).length, 2);
  } finally {
    await cleanup(h);
  }
});

test('duplicate object in two files: warned, one version wins, removing one keeps the other', async (t) => {
  const h = await start({ 'a.yaml': svc('dup', 1), 'b.yaml': svc('dup', 2) });
  try {
    t.is(portOf(upserted(h.events, 'default/dup')), 2);
    t.truthy(h.logger.lines.find((l) => l.level === 'warn' && l.msg?.includes('several files')));
    const mark = h.events.length;
    await unlink(join(h.dir, 'b.yaml'));
    await h.until(mark, (ev) => portOf(upserted(ev, 'default/dup')) === 1);
    t.false(deleted(h.events, 'default/dup'));
  } finally {
    await cleanup(h);
  }
});

test('missing directory at start: error line, synced anyway, objects appear when it is created', async (t) => {
  const h = await start({}, { createDir: false });
  try {
    t.deepEqual(h.events.map((e) => e.type), RESOURCE_KINDS.map(() => 'synced'));
    t.truthy(h.logger.lines.find((l) => l.level === 'error' && l.msg?.includes('cannot read directory')));
    const mark = h.events.length;
    await mkdir(h.dir);
    await writeFile(join(h.dir, 'late.yaml'), svc('late'));
    await h.until(mark, (ev) => upserted(ev, 'default/late') !== undefined);
    // And once watched again, changes are quick.
    const mark2 = h.events.length;
    await writeFile(join(h.dir, 'late.yaml'), svc('late', 1234));
    await h.until(mark2, (ev) => portOf(upserted(ev, 'default/late')) === 1234);
  } finally {
    await cleanup(h);
  }
});

test('with no watch events at all (poll only), the periodic stat rescan still sees changes', async (t) => {
  const h = await start({ 'a.yaml': svc('a') }, { rescanIntervalMs: 300, watch: false });
  try {
    const mark = h.events.length;
    await writeFile(join(h.dir, 'a.yaml'), svc('a', 4321));
    await h.until(mark, (ev) => portOf(upserted(ev, 'default/a')) === 4321);
    const mark2 = h.events.length;
    await unlink(join(h.dir, 'a.yaml'));
    await h.until(mark2, (ev) => deleted(ev, 'default/a'));
    t.pass();
  } finally {
    await cleanup(h);
  }
});

test('stop() ends watching: later changes produce no events', async (t) => {
  const h = await start({ 'a.yaml': svc('a') });
  await h.source.stop();
  const count = h.events.length;
  await writeFile(join(h.dir, 'b.yaml'), svc('b'));
  await new Promise((r) => setTimeout(r, 1300));
  t.is(h.events.length, count);
  await rm(join(h.dir, '..'), { recursive: true, force: true });
});

test('loadManifestsOnce: events, problems, ignored, and a clear error for a missing directory', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-once-'));
  try {
    await writeFile(join(root, 'a.yaml'), `${svc('a')}kind: Service\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`);
    const snapshot = await loadManifestsOnce(root);
    t.deepEqual(snapshot.events.filter((e) => e.type === 'upsert').map((e) => (e.type === 'upsert' ? e.key : '')), ['default/a']);
    t.is(snapshot.events.filter((e) => e.type === 'synced').length, RESOURCE_KINDS.length);
    t.deepEqual(snapshot.problems.map((p) => p.document), [1]);
    t.deepEqual(snapshot.ignored.map((i) => i.kind), ['ConfigMap']);
    const error = await t.throwsAsync(loadManifestsOnce(join(root, 'nope')));
    t.is((error as { code?: string }).code, 'ERR_SOURCE_UNAVAILABLE');
    t.true(error!.message.includes(join(root, 'nope')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the examples directory loads cleanly', async (t) => {
  const snapshot = await loadManifestsOnce(new URL('../../../examples', import.meta.url).pathname);
  t.deepEqual(snapshot.problems, []);
  t.deepEqual(snapshot.warnings, []);
  const kinds = new Set(snapshot.events.filter((e) => e.type === 'upsert').map((e) => e.kind));
  t.deepEqual([...kinds].sort(), ['EndpointSlice', 'Ingress', 'IngressClass', 'Node', 'Service']);
});

test('scanner: a file that suddenly reads empty (truncated mid-write) is confirmed by a second scan before deleting', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-scan-'));
  try {
    const scanner = new DirectoryScanner(root);
    await writeFile(join(root, 'a.yaml'), svc('a'));
    t.deepEqual((await scanner.scan()).events.map((e) => e.type), ['upsert']);
    await writeFile(join(root, 'a.yaml'), '');
    const first = await scanner.scan();
    t.deepEqual(first.events, []);
    t.true(first.rescanSoon);
    const second = await scanner.scan();
    t.deepEqual(second.events.map((e) => e.type), ['delete']);
    t.false(second.rescanSoon);
    // Rewritten before the confirming scan: no delete at all.
    await writeFile(join(root, 'a.yaml'), svc('a'));
    await scanner.scan();
    await writeFile(join(root, 'a.yaml'), '');
    t.deepEqual((await scanner.scan()).events, []);
    await writeFile(join(root, 'a.yaml'), svc('a'));
    t.deepEqual((await scanner.scan()).events, []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('emptying a file deletes its objects within 2 s', async (t) => {
  const h = await start({ 'a.yaml': svc('a'), 'b.yaml': svc('b') });
  try {
    const mark = h.events.length;
    await writeFile(join(h.dir, 'a.yaml'), '# nothing here any more\n');
    await h.until(mark, (ev) => deleted(ev, 'default/a'));
    t.false(deleted(h.events, 'default/b'));
  } finally {
    await cleanup(h);
  }
});
