/**
 * The real Daemon (proxy mode none) against the test API server: Ingress changes made through the API server
 * reach the proxy within 1 s, and status.loadBalancer is published, cleared on a class change, and readable with
 * kubectl.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { buildDaemon } from '../../lib/app/run-command.ts';
import { recordingLogger } from '../../lib/telemetry/logger-types.ts';
import { TestApiServer, writeKubeconfig } from '../support/apiserver/index.ts';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { closedPort, haveOpenssl, opensslCert, startBackend } from '../ingress/helpers.ts';
import { tlsSecret } from '../unit/ingress/fixtures.ts';
import {
  NODE,
  STATUS_ADDRESS,
  configFor,
  get,
  ingress,
  node,
  otherClass,
  ourClass,
  service,
  slice,
  within,
} from '../ingress/dynamic-helpers.ts';

const run = promisify(execFile);
const KUBECTL = '/usr/bin/kubectl';

test('API server: path, backend and endpoint changes are followed within 1 s; status published and cleared', async (t) => {
  const server = new TestApiServer({ bookmarkIntervalMs: 500 });
  const url = await server.start();
  const a = await startBackend('a');
  const b = await startBackend('b');
  const port = await closedPort();
  for (const o of [node(), ourClass(), otherClass(), service('web', '10.96.0.10'), slice('web', a.port), ingress('site', '/app', 'web')]) {
    server.create(o);
  }
  const logger = recordingLogger();
  // --kubeconfig rather than --master: client-node 2 refuses plain http unless the cluster skips TLS verification,
  // which only a kubeconfig can say (see the report on lib/source/kube.ts).
  const kubeconfig = await writeKubeconfig(url);
  const daemon = buildDaemon(await configFor(['--kubeconfig', kubeconfig, '--ingress-status-address', STATUS_ADDRESS], port), NODE, logger);
  t.teardown(async () => {
    await daemon.stop(0);
    await Promise.all([server.stop(), a.close(), b.close()]);
  });
  await daemon.start();

  const lbOf = (name: string): unknown =>
    (server.store.get('Ingress', 'default', name) as { status?: { loadBalancer?: { ingress?: unknown } } } | undefined)
      ?.status?.loadBalancer?.ingress;
  const edit = (kind: string, name: string, change: (o: Record<string, any>) => void): void => {
    const o = server.store.get(kind, 'default', name)! as Record<string, any>;
    change(o);
    server.update(o);
  };
  const timings: Record<string, number> = {};

  try {
    timings['first route'] = await within('first route', 10_000, () => get(port, '/app/x'), (s) => s.backend === 'a');
  } catch (e) {
    t.log(logger.lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields)}`).join('\n'));
    throw e;
  }
  timings['status published'] = await within('status', 5_000, () => lbOf('site'), (v) => JSON.stringify(v) === JSON.stringify([{ ip: STATUS_ADDRESS }]));

  edit('Ingress', 'site', (o) => (o.spec.rules[0].http.paths[0].path = '/v2'));
  timings['path change'] = await within('path change', 1_000, async () => [await get(port, '/v2'), await get(port, '/app')], ([n, old]) => n!.backend === 'a' && old!.status === 404);

  server.create(service('web2', '10.96.0.11'));
  server.create(slice('web2', b.port));
  edit('Ingress', 'site', (o) => (o.spec.rules[0].http.paths[0].backend.service.name = 'web2'));
  timings['backend change'] = await within('backend change', 1_000, () => get(port, '/v2'), (s) => s.backend === 'b');

  edit('EndpointSlice', 'web2-1', (o) => (o.ports[0].port = a.port));
  timings['endpoint change'] = await within('endpoint change', 1_000, () => get(port, '/v2'), (s) => s.backend === 'a');

  // Status survives spec edits (nothing rewrote it) and kubectl reads it through the status-bearing object.
  t.deepEqual(lbOf('site'), [{ ip: STATUS_ADDRESS }]);
  if (existsSync(KUBECTL)) {
    const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, 'get', 'ingress', 'site', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    t.is(stdout, STATUS_ADDRESS);
  }

  // Class changed to another controller: no longer served, and our entry taken off the status.
  server.create(ingress('moved', '/moved', 'web'));
  await within('moved served', 2_000, () => lbOf('moved'), (v) => Array.isArray(v) && v.length === 1);
  edit('Ingress', 'moved', (o) => (o.spec.ingressClassName = 'other'));
  timings['class change → 404'] = await within('class change', 1_000, () => get(port, '/moved'), (s) => s.status === 404);
  timings['status cleared'] = await within('status cleared', 2_000, () => lbOf('moved'), (v) => Array.isArray(v) && v.length === 0);

  // An Ingress of another controller is never written.
  server.create(ingress('foreign', '/foreign', 'web', 'other'));
  const statusWrites = () => server.requests.filter((r) => r.method === 'PATCH' && r.url.includes('/status')).map((r) => r.url);
  await new Promise((r) => setTimeout(r, 300));
  t.false(statusWrites().some((u) => u.includes('/foreign/')));

  server.delete('Ingress', 'default', 'site');
  timings['delete → 404'] = await within('delete', 1_000, () => get(port, '/v2'), (s) => s.status === 404);

  // One publish for site, one publish and one clear for moved: no write storms.
  t.deepEqual(statusWrites().sort(), [
    '/apis/networking.k8s.io/v1/namespaces/default/ingresses/moved/status?fieldManager=switchyard',
    '/apis/networking.k8s.io/v1/namespaces/default/ingresses/moved/status?fieldManager=switchyard',
    '/apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status?fieldManager=switchyard',
  ]);
  t.log(Object.entries(timings).map(([k, v]) => `${k}: ${v.toFixed(0)} ms`).join(', '));
  t.false(logger.lines.some((l) => l.level === 'error'), JSON.stringify(logger.lines.filter((l) => l.level === 'error')));
  // HTTP only (configFor: no HTTPS listener): no Secret is ever asked for.
  t.true(server.requests.some((r) => r.url.includes('/ingressclasses')));
  t.deepEqual(server.requests.filter((r) => r.url.includes('/secrets')).map((r) => r.url), []);
});

test('API server: a request made while Ingresses are still being listed waits for them, instead of a 404', async (t) => {
  const server = new TestApiServer({ bookmarkIntervalMs: 500 });
  const url = await server.start();
  const a = await startBackend('a');
  const port = await closedPort();
  for (const o of [node(), ourClass(), service('web', '10.96.0.10'), slice('web', a.port), ingress('site', '/app', 'web')]) {
    server.create(o);
  }
  // Services and EndpointSlices are listed at once; the Ingress list fails twice (the watcher backs off ≈ 0.5 s
  // and 1 s), so the daemon's first sync happens without any Ingress.
  server.failNext(2, { pathIncludes: '/ingresses' });
  const logger = recordingLogger();
  const daemon = buildDaemon(await configFor(['--kubeconfig', await writeKubeconfig(url)], port), NODE, logger);
  t.teardown(async () => {
    await daemon.stop(0);
    await Promise.all([server.stop(), a.close()]);
  });
  await daemon.start();
  const started = performance.now();
  const first = await get(port, '/app/early');
  const waited = performance.now() - started;
  t.deepEqual(first, { status: 200, backend: 'a' }, 'answered by its route');
  t.true(waited >= 300, `held until the Ingresses were listed (${Math.round(waited)} ms)`);
  t.true(
    server.requests.filter((r) => r.url.includes('/ingresses') && r.status === 500).length === 2,
    'the Ingress list failed twice first',
  );
  const opened = logger.lines.find((l) => l.msg === 'ingress: first route table; serving');
  t.is((opened?.fields as { released?: number } | undefined)?.released, 1);
});

/** The fingerprint of the certificate the server presents for `servername`. */
const presented = (port: number, servername: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve(cert.fingerprint256);
      else reject(new Error('no peer certificate'));
    });
    socket.on('error', reject);
  });

test('API server: Secrets forbidden (RBAC without secrets) — HTTP served at once, HTTPS with the default certificate until they can be listed', async (t) => {
  if (!haveOpenssl()) return t.fail('openssl is needed to make the test certificate');
  const server = new TestApiServer({ bookmarkIntervalMs: 500 });
  const url = await server.start();
  const a = await startBackend('a');
  const port = await closedPort();
  const tlsPort = await closedPort();
  const pair = opensslCert('shop.example.test');
  const site = ingress('site', '/app', 'web');
  (site.spec as Record<string, unknown>).tls = [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }];
  const secret = { apiVersion: 'v1', kind: 'Secret', ...tlsSecret('shop-tls', pair.cert, pair.key) };
  for (const o of [node(), ourClass(), service('web', '10.96.0.10'), slice('web', a.port), site, secret]) server.create(o);
  server.failNext(1_000, { pathIncludes: '/secrets', status: 403 });
  const logger = recordingLogger();
  const config = await configFor(['--kubeconfig', await writeKubeconfig(url), '--ingress-https-address', `127.0.0.1:${tlsPort}`], port);
  const daemon = buildDaemon(config, NODE, logger);
  t.teardown(async () => {
    await daemon.stop(0);
    await Promise.all([server.stop(), a.close()]);
  });
  await daemon.start();

  // Held for the whole 60 s before: the Secret list never succeeded, so no table was ever built.
  const served = await within('HTTP served while Secrets are forbidden', 5_000, () => get(port, '/app/x'), (s) => s.backend === 'a');
  const forbidden = logger.lines.filter((l) => l.level === 'error' && l.msg?.includes('listing Secrets is forbidden'));
  t.is(forbidden.length, 1, 'one error line names the missing grant');
  t.true(server.requests.some((r) => r.url.includes('/secrets') && r.status === 403));
  const secretCert = new X509Certificate(pair.cert).fingerprint256;
  t.not(await presented(tlsPort, 'shop.example.test'), secretCert, 'the default certificate meanwhile');

  server.clearFailures();
  const picked = await within('the Secret picked up once allowed', 15_000, () => presented(tlsPort, 'shop.example.test'), (f) => f === secretCert);
  t.log(`HTTP served after ${served.toFixed(0)} ms with Secrets forbidden; certificate picked up ${picked.toFixed(0)} ms after the grant`);
});
