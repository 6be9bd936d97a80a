import test from 'ava';
import { METRIC_NAMES, NETWORK_PROGRAMMING_BUCKETS, ProxyMetrics, SYNC_DURATION_BUCKETS } from '../../../lib/telemetry/metrics.ts';
import { MetricsServer } from '../../../lib/telemetry/metrics-server.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

/** `# TYPE name type` lines of a Prometheus text exposition. */
const types = (text: string): Map<string, string> =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));

const scrapeOverHttp = async (metrics: ProxyMetrics): Promise<string> => {
  const server = new MetricsServer({ address: { host: '127.0.0.1', port: 0 }, metrics, logger: recordingLogger() });
  await server.start();
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return await res.text();
  } finally {
    await server.stop();
  }
};

const exercised = (): ProxyMetrics => {
  const m = new ProxyMetrics();
  m.observeSync(0.02, true, 1_700_000_000_000);
  m.observeSync(0.003, false, 1_700_000_001_000);
  m.syncFailed('nftables');
  m.syncFailed('iptables');
  m.queued(1_700_000_000_500);
  m.serviceChanged();
  m.endpointChanged();
  m.setPending(1, 2);
  m.observeNetworkProgramming(1.5);
  m.setNoLocalEndpoints({ internal: 1, external: 2 });
  m.countHealthz(200);
  m.countLivez(503);
  m.countInvalidObject('Service');
  m.countIngressRequest(502);
  m.observeIngressUpstream(0.01);
  m.countIngressHandoff('upgrade');
  m.countIngressListenFailure();
  m.countSourceRestart('Service', 'watch-error');
  m.countConntrack(true);
  m.countConntrack(false);
  m.countListenerFailure();
  return m;
};

const EXPECTED_TYPES: Record<keyof typeof METRIC_NAMES, string> = {
  syncDuration: 'histogram',
  syncFullDuration: 'histogram',
  syncPartialDuration: 'histogram',
  lastSync: 'gauge',
  lastQueued: 'gauge',
  networkProgramming: 'histogram',
  serviceChangesTotal: 'counter',
  serviceChangesPending: 'gauge',
  endpointChangesTotal: 'counter',
  endpointChangesPending: 'gauge',
  noLocalEndpoints: 'gauge',
  healthzTotal: 'counter',
  livezTotal: 'counter',
  nftablesSyncFailures: 'counter',
  iptablesRestoreFailures: 'counter',
  syncsTotal: 'counter',
  invalidObjects: 'counter',
  ingressRequests: 'counter',
  ingressUpstreamDuration: 'histogram',
  ingressHandoffs: 'counter',
  ingressListenFailures: 'counter',
  sourceRestarts: 'counter',
  conntrackDeleted: 'counter',
  conntrackFailures: 'counter',
  healthCheckListenerFailures: 'counter',
};

test('every metric is exposed under exactly its kube-proxy name and type (scraped over HTTP)', async (t) => {
  const text = await scrapeOverHttp(exercised());
  const exposed = types(text);
  for (const [key, name] of Object.entries(METRIC_NAMES)) {
    t.is(exposed.get(name), EXPECTED_TYPES[key as keyof typeof METRIC_NAMES], name);
  }
  // Nothing renamed behind our back (no doubled _total, no unit suffixes, no target_info / scope labels).
  t.deepEqual([...exposed.keys()].sort(), Object.values(METRIC_NAMES).sort());
  t.notRegex(text, /otel_scope|target_info|_total_total|_seconds_seconds/);
});

test('samples carry kube-proxy labels and values', async (t) => {
  const text = await scrapeOverHttp(exercised());
  const lines = new Set(text.split('\n'));
  for (const line of [
    'kubeproxy_sync_proxy_rules_duration_seconds_count 2',
    'kubeproxy_sync_full_proxy_rules_duration_seconds_count 1',
    'kubeproxy_sync_partial_proxy_rules_duration_seconds_count 1',
    'kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000001',
    'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1700000000.5',
    'kubeproxy_sync_proxy_rules_service_changes_total 1',
    'kubeproxy_sync_proxy_rules_endpoint_changes_pending 2',
    'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal"} 1',
    'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"} 2',
    'kubeproxy_proxy_healthz_total{code="200"} 1',
    'kubeproxy_proxy_livez_total{code="503"} 1',
    'kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1',
    'kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1',
    'switchyard_syncs_total{kind="full"} 1',
    'switchyard_syncs_total{kind="partial"} 1',
    'switchyard_invalid_objects_total{kind="Service"} 1',
    'switchyard_ingress_requests_total{code="502"} 1',
    'switchyard_ingress_listen_failures_total 1',
    'switchyard_source_restarts_total{kind="Service",reason="watch-error"} 1',
    'kubeproxy_network_programming_duration_seconds_bucket{le="1"} 0',
    'kubeproxy_network_programming_duration_seconds_bucket{le="2"} 1',
  ]) {
    t.true(lines.has(line), line);
  }
});

test('buckets: kube-proxy exponential sync buckets and network-programming buckets', async (t) => {
  t.is(SYNC_DURATION_BUCKETS.length, 15);
  t.is(SYNC_DURATION_BUCKETS[0], 0.001);
  t.is(SYNC_DURATION_BUCKETS[14], 16.384);
  t.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(0, 4), [0.25, 0.5, 1, 2]);
  t.is(NETWORK_PROGRAMMING_BUCKETS.at(-1), 300);
  t.is(NETWORK_PROGRAMMING_BUCKETS.length, 2 + 59 + 12 + 7);
  const text = await new ProxyMetrics().scrape();
  t.is(text.match(/^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="[^"]+"\} 0$/gm), null); // unobserved histograms are absent
  const m = new ProxyMetrics();
  m.observeSync(0.003, true, 0);
  const les = [...(await m.scrape()).matchAll(/^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="([^"]+)"\}/gm)].map((x) => x[1]);
  t.deepEqual(les, [...SYNC_DURATION_BUCKETS.map(String), '+Inf']);
});

test('unlabelled kube-proxy counters are visible at 0 before anything happened', async (t) => {
  const text = await new ProxyMetrics().scrape();
  t.regex(text, /^kubeproxy_sync_proxy_rules_service_changes_total 0$/m);
  t.regex(text, /^kubeproxy_sync_proxy_rules_endpoint_changes_total 0$/m);
  t.regex(text, /^kubeproxy_sync_proxy_rules_nftables_sync_failures_total 0$/m);
});

test('MetricsServer: /healthz ok, unknown paths 404', async (t) => {
  const server = new MetricsServer({ address: { host: '127.0.0.1', port: 0 }, metrics: new ProxyMetrics(), logger: recordingLogger() });
  await server.start();
  try {
    t.is((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
    t.is((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
  } finally {
    await server.stop();
  }
});
