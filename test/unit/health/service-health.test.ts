import test from 'ava';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { healthCheckHosts, healthCheckResponse, healthCheckTargets, ServiceHealthServers } from '../../../lib/health/service-health.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import { desired, ep, plan } from '../dataplane/fixtures.ts';

const lb = (port: number, local: number, extra = {}) =>
  plan({
    name: 'shop',
    namespace: 'prod',
    clusterIP: '10.96.0.30',
    port: 80,
    endpoints: [...Array.from({ length: local }, (_, i) => ep(`10.244.1.${i + 1}`, 80, true)), ep('10.244.2.1', 80)],
    extra: { healthCheckNodePort: port, externalPolicyLocal: true, nodePort: 30080, ...extra },
  });

test('healthCheckTargets: one per port, counting local endpoints; services without one are skipped', (t) => {
  const state = desired([
    lb(32100, 2),
    plan({ name: 'shop', namespace: 'prod', portName: 'tls', clusterIP: '10.96.0.30', port: 443, endpoints: [ep('10.244.1.1', 443, true)], extra: { healthCheckNodePort: 32100 } }),
    plan({ name: 'web', clusterIP: '10.96.0.10', port: 80, endpoints: [ep('10.244.1.9', 80, true)] }),
  ]);
  t.deepEqual(healthCheckTargets(state), [{ namespace: 'prod', name: 'shop', port: 32100, localEndpoints: 2 }]);
});

test('healthCheckHosts: node-port addresses when known, else every address', (t) => {
  t.deepEqual(healthCheckHosts(desired([])), ['192.168.1.10', 'fd00:1::10']);
  t.deepEqual(healthCheckHosts(desired([], { v4: { nodePortOnAllLocal: true, nodePortAddresses: [] } })), [undefined]);
  t.deepEqual(healthCheckHosts(desired([], { v4: { nodePortAddresses: [] }, v6: { nodePortAddresses: [] } })), [undefined]);
});

const responseCases: [string, number, boolean, number, string | null][] = [
  ['local endpoints and a healthy proxy', 3, true, 200, '3'],
  ['no local endpoint', 0, true, 503, null],
  ['local endpoints but an unhealthy proxy', 2, false, 503, '2'],
];
for (const [title, n, healthy, code, weight] of responseCases) {
  test(`healthCheckResponse: ${title}`, (t) => {
    const r = healthCheckResponse({ namespace: 'prod', name: 'shop', port: 1, localEndpoints: n }, healthy);
    t.is(r.code as number, code);
    t.is(r.headers['x-load-balancing-endpoint-weight'] ?? null, weight);
    t.deepEqual(JSON.parse(r.body), { service: { namespace: 'prod', name: 'shop' }, localEndpoints: n, serviceProxyHealthy: healthy });
  });
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

const loopbackOnly = desired([], { v4: { nodePortAddresses: ['127.0.0.1'] }, v6: { nodePortAddresses: [] } });
const withServices = (...services: ReturnType<typeof lb>[]) => ({ ...loopbackOnly, services });

test('ServiceHealthServers: opens, updates counts in place, and closes as services come and go', async (t) => {
  const port = await freePort();
  let healthy = true;
  const servers = new ServiceHealthServers({ logger: recordingLogger(), proxyHealthy: () => healthy });
  try {
    await servers.sync(withServices(lb(port, 2)));
    t.deepEqual(servers.ports, [port]);
    let res = await fetch(`http://127.0.0.1:${port}/`);
    t.is(res.status, 200);
    t.is(res.headers.get('x-load-balancing-endpoint-weight'), '2');
    t.is(((await res.json()) as { localEndpoints: number }).localEndpoints, 2);
    await servers.sync(withServices(lb(port, 0)));
    res = await fetch(`http://127.0.0.1:${port}/`);
    t.is(res.status, 503);
    await res.text();
    healthy = false;
    await servers.sync(withServices(lb(port, 1)));
    res = await fetch(`http://127.0.0.1:${port}/`);
    t.is(res.status, 503);
    t.is(((await res.json()) as { serviceProxyHealthy: boolean }).serviceProxyHealthy, false);
    await servers.sync(withServices());
    t.deepEqual(servers.ports, []);
    await t.throwsAsync(fetch(`http://127.0.0.1:${port}/`));
  } finally {
    await servers.stop();
  }
});

test('ServiceHealthServers: a port in use is logged and counted once, not thrown, and retried next sync', async (t) => {
  const port = await freePort();
  // Another program's listener (no SO_REUSEPORT, unlike switchyard's own, which a next pod may share).
  const squatter = await new Promise<{ close: () => Promise<void> }>((resolve) => {
    const server = createServer((socket) => socket.end('squatter'));
    server.listen({ host: '127.0.0.1', port }, () =>
      resolve({ close: () => new Promise<void>((done, fail) => server.close((e) => (e ? fail(e) : done()))) }));
  });
  const logger = recordingLogger();
  const failures: number[] = [];
  const servers = new ServiceHealthServers({ logger, proxyHealthy: () => true, onListenerFailure: (p) => failures.push(p) });
  try {
    await servers.sync(withServices(lb(port, 1)));
    await servers.sync(withServices(lb(port, 1)));
    t.deepEqual(servers.ports, []);
    t.deepEqual(failures, [port]);
    t.is(logger.lines.filter((l) => l.level === 'warn').length, 1);
    t.regex(logger.lines.find((l) => l.level === 'warn')?.msg ?? '', /prod\/shop/);
    await squatter.close();
    await servers.sync(withServices(lb(port, 1)));
    t.deepEqual(servers.ports, [port]);
  } finally {
    await squatter.close().catch(() => undefined);
    await servers.stop();
  }
});
