/**
 * kubectl, an independent client, against the test API server: proves the server speaks the protocol real clients
 * expect (discovery, list, get, create, delete, watch, label and field selectors).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { TestApiServer, writeKubeconfig } from '../support/apiserver/index.ts';
import { endpointSlice, service, waitFor } from './harness.ts';

const run = promisify(execFile);
const KUBECTL = '/usr/bin/kubectl';

const setup = async () => {
  const server = new TestApiServer();
  const url = await server.start();
  const kubeconfig = await writeKubeconfig(url);
  const kubectl = async (...args: string[]) =>
    (await run(KUBECTL, ['--kubeconfig', kubeconfig, '--request-timeout=5s', ...args], { timeout: 15_000 })).stdout;
  return { server, kubeconfig, kubectl };
};

test('get -A -o json lists services with kind/apiVersion and the list resourceVersion', async (t) => {
  const { server, kubectl } = await setup();
  t.teardown(() => server.stop());
  server.create(service('default', 'web'));
  server.create(service('kube-system', 'dns', { app: 'dns' }));
  const list = JSON.parse(await kubectl('get', 'services', '-A', '-o', 'json'));
  t.is(list.kind, 'List');
  t.deepEqual(list.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort(), ['dns', 'web']);
  t.true(list.items.every((i: { kind: string; apiVersion: string }) => i.kind === 'Service' && i.apiVersion === 'v1'));
  t.is(JSON.parse(await kubectl('get', 'service', 'web', '-n', 'default', '-o', 'json')).metadata.name, 'web');
});

test('endpointslices through group discovery; label and field selectors', async (t) => {
  const { server, kubectl } = await setup();
  t.teardown(() => server.stop());
  server.create(endpointSlice('default', 'web', 'web-1', '10.0.0.1'));
  server.create(endpointSlice('default', 'api', 'api-1', '10.0.0.2'));
  server.create(service('default', 'a', { tier: 'front', env: 'prod' }));
  server.create(service('default', 'b', { tier: 'back' }));
  server.create(service('other', 'c'));
  t.regex(await kubectl('get', 'endpointslices', '-A'), /web-1[\s\S]*|api-1/);
  const names = async (...args: string[]) => (await kubectl('get', 'services', '-A', '-o', 'name', ...args)).trim().split('\n').filter(Boolean).sort();
  t.deepEqual(await names('-l', 'tier=front'), ['service/a']);
  t.deepEqual(await names('-l', 'tier!=front'), ['service/b', 'service/c']);
  t.deepEqual(await names('-l', '!tier'), ['service/c']);
  t.deepEqual(await names('-l', 'tier'), ['service/a', 'service/b']);
  t.deepEqual(await names('-l', 'tier in (front,back),env notin (dev)'), ['service/a', 'service/b']);
  t.deepEqual(await names('--field-selector', 'metadata.namespace=other'), ['service/c']);
  t.deepEqual(await names('--field-selector', 'metadata.name!=a,metadata.namespace==default'), ['service/b']);
  const slices = JSON.parse(await kubectl('get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=web', '-o', 'json'));
  t.deepEqual(slices.items.map((s: { metadata: { name: string } }) => s.metadata.name), ['web-1']);
  await t.throwsAsync(kubectl('get', 'services', '-A', '--field-selector', 'spec.clusterIP=1.2.3.4'), { message: /field label not supported/ });
});

test('apply creates, apply again updates, delete removes; watch streams the changes', async (t) => {
  const { server, kubeconfig, kubectl } = await setup();
  t.teardown(() => server.stop());
  const manifest = join(dirname(kubeconfig), 'svc.yaml');
  const write = (port: number) => writeFile(manifest, `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {tier: front}}
spec: {ports: [{name: http, port: ${port}}]}
`);
  // The test server serves no OpenAPI documents, so client-side schema validation is off.
  await write(80);
  const watchOutput = run(KUBECTL, ['--kubeconfig', kubeconfig, 'get', 'services', '-n', 'default', '--watch', '-o', 'name',
    '--request-timeout=4s'], { timeout: 10_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  await waitFor('kubectl watch open', () => server.openWatches() === 1);
  t.regex(await kubectl('apply', '--validate=false', '-f', manifest), /service\/web created/);
  t.is(server.list('Service')[0]!.spec && (server.list('Service')[0]!.spec as { ports: Array<{ port: number }> }).ports[0]!.port, 80);
  await write(8080);
  t.regex(await kubectl('apply', '--validate=false', '-f', manifest), /service\/web configured/);
  t.is((server.list('Service')[0]!.spec as { ports: Array<{ port: number }> }).ports[0]!.port, 8080);
  t.regex(await kubectl('delete', '-f', manifest), /service "web" deleted/);
  t.deepEqual(server.list('Service'), []);
  const { stdout } = await watchOutput;
  t.true(stdout.split('\n').filter((l) => l === 'service/web').length >= 2, `watch saw the service: ${JSON.stringify(stdout)}`);
});
