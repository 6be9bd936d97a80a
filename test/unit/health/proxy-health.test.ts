import test from 'ava';
import { HealthServer } from '../../../lib/health/health-server.ts';
import { healthzResponse, isNodeEligible, livezResponse, ProxyHealth } from '../../../lib/health/proxy-health.ts';
import type { NodeInfo } from '../../../lib/model/types.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

const node = (extra: Partial<NodeInfo> = {}): NodeInfo => ({
  name: 'node-a', labels: {}, zone: undefined, addresses: { internal: [], external: [] }, podCIDRs: [], deleting: false, taintKeys: [], ...extra,
});

test('isNodeEligible', (t) => {
  t.true(isNodeEligible(undefined));
  t.true(isNodeEligible(node({ taintKeys: ['node.kubernetes.io/unschedulable'] })));
  t.false(isNodeEligible(node({ deleting: true })));
  t.false(isNodeEligible(node({ taintKeys: ['ToBeDeletedByClusterAutoscaler'] })));
});

const fixture = () => {
  let now = 1_000_000;
  const health = new ProxyHealth({ healthTimeoutMs: 60_000, now: () => now });
  return { health, advance: (ms: number) => (now += ms) };
};

// [title, steps, healthz code, livez code]
const cases: [string, (f: ReturnType<typeof fixture>) => void, number, number][] = [
  ['fresh: healthy while starting up', () => undefined, 200, 200],
  ['queued change, not yet late', (f) => { f.health.queued(); f.advance(59_999); }, 200, 200],
  ['queued change older than the timeout', (f) => { f.health.queued(); f.advance(60_000); }, 503, 503],
  ['the oldest queued change counts, not the newest', (f) => { f.health.queued(); f.advance(40_000); f.health.queued(); f.advance(20_000); }, 503, 503],
  ['synced after a late change: healthy again', (f) => { f.health.queued(); f.advance(90_000); f.health.updated(); }, 200, 200],
  ['nothing pending long after the last sync: healthy', (f) => { f.health.updated(); f.advance(600_000); }, 200, 200],
  ['node being deleted: /healthz 503, /livez 200', (f) => f.health.syncNode(node({ deleting: true })), 503, 200],
  ['autoscaler taint: /healthz 503', (f) => f.health.syncNode(node({ taintKeys: ['ToBeDeletedByClusterAutoscaler'] })), 503, 200],
  ['taint removed again: eligible', (f) => { f.health.syncNode(node({ deleting: true })); f.health.syncNode(node()); }, 200, 200],
];
for (const [title, steps, healthz, livez] of cases) {
  test(`ProxyHealth: ${title}`, (t) => {
    const f = fixture();
    steps(f);
    t.is(healthzResponse(f.health).code as number, healthz);
    t.is(livezResponse(f.health).code as number, livez);
  });
}

test('bodies: kube-proxy keys; lastUpdated is "now" when healthy, the last sync when not', (t) => {
  const f = fixture();
  f.health.updated();
  const syncedAt = new Date(1_000_000).toISOString();
  f.advance(1_000);
  const ok = JSON.parse(healthzResponse(f.health).body) as Record<string, unknown>;
  t.deepEqual(Object.keys(ok), ['lastUpdated', 'currentTime', 'nodeEligible']);
  t.is(ok.lastUpdated, ok.currentTime);
  t.is(ok.nodeEligible, true);
  f.health.queued();
  f.advance(61_000);
  const bad = JSON.parse(livezResponse(f.health).body) as Record<string, unknown>;
  t.deepEqual(Object.keys(bad), ['lastUpdated', 'currentTime']);
  t.is(bad.lastUpdated, syncedAt);
});

test('HealthServer answers /healthz and /livez over HTTP and counts probes', async (t) => {
  const f = fixture();
  f.health.syncNode(node({ deleting: true }));
  const probes: string[] = [];
  const server = new HealthServer({
    address: { host: '127.0.0.1', port: 0 },
    health: f.health,
    logger: recordingLogger(),
    onProbe: (path, code) => probes.push(`${path} ${code}`),
  });
  await server.start();
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const healthz = await fetch(`${base}/healthz`);
    t.is(healthz.status, 503);
    t.is(healthz.headers.get('content-type'), 'application/json');
    t.is(((await healthz.json()) as { nodeEligible: boolean }).nodeEligible, false);
    const livez = await fetch(`${base}/livez`);
    t.is(livez.status, 200);
    await livez.text();
    t.is((await fetch(`${base}/other`)).status, 404);
    t.deepEqual(probes, ['/healthz 503', '/livez 200']);
  } finally {
    await server.stop();
  }
});
