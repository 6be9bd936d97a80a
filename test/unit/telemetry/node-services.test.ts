/**
 * The daemon with NodeServices attached, every side effect faked except loopback HTTP: events and syncs become
 * kube-proxy metrics (scraped from /metrics), health follows the sync loop and the Node, conntrack cleanup runs
 * after syncs.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../lib/source/types.ts';
import { daemonWithNodeServices, upsert } from './daemon-harness.ts';
import { LAST_CHANGE_TRIGGER_TIME } from '../../../lib/telemetry/sync-telemetry.ts';
import { nodeObject, serviceObject, sliceObject, ep } from '../model/builders.ts';


const dnsService = serviceObject('dns', { clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
const dnsSlice = (ip: string, trigger?: string): KubeObject => {
  const slice = sliceObject('dns-1', 'dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [ep(ip)] });
  return trigger ? { ...slice, metadata: { ...slice.metadata, annotations: { [LAST_CHANGE_TRIGGER_TIME]: trigger } } } : slice;
};

test('a sync shows up on /metrics with kube-proxy names; pending counts drop to 0; conntrack cleans a replaced endpoint', async (t) => {
  const h = await daemonWithNodeServices();
  try {
    h.emit(upsert('Service', dnsService));
    h.emit(upsert('EndpointSlice', dnsSlice('10.244.1.5', new Date(Date.now() - 3_000).toISOString())));
    let text = await h.scrape();
    t.regex(text, /^kubeproxy_sync_proxy_rules_service_changes_pending 1$/m);
    t.regex(text, /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 1$/m);
    h.emit({ type: 'synced', kind: 'Service' });
    h.emit({ type: 'synced', kind: 'EndpointSlice' });
    await h.syncNow();
    text = await h.scrape();
    t.regex(text, /^kubeproxy_sync_proxy_rules_duration_seconds_count 1$/m);
    t.regex(text, /^kubeproxy_sync_proxy_rules_service_changes_total 1$/m);
    t.regex(text, /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 0$/m);
    t.regex(text, /^switchyard_syncs_total\{kind="full"\} 1$/m);
    // The trigger time was ~3 s ago: the observation lands in the (2, 3] or (3, 4] bucket, never below 2 s.
    t.regex(text, /^kubeproxy_network_programming_duration_seconds_bucket\{le="2"\} 0$/m);
    t.regex(text, /^kubeproxy_network_programming_duration_seconds_count 1$/m);
    t.is(await h.probe('/healthz'), 200);

    h.emit(upsert('EndpointSlice', dnsSlice('10.244.1.6')));
    await h.syncNow();
    t.deepEqual(h.conntrack.deleted, [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }]);
    t.regex(await h.scrape(), /^switchyard_syncs_total\{kind="partial"\} 1$/m);
  } finally {
    await h.daemon.stop();
    await h.node.stop();
  }
});

test('a failed sync counts an nftables sync failure and no conntrack cleanup; the Node being deleted fails /healthz only', async (t) => {
  const h = await daemonWithNodeServices();
  try {
    h.emit(upsert('Service', dnsService));
    h.emit({ type: 'synced', kind: 'Service' });
    h.emit({ type: 'synced', kind: 'EndpointSlice' });
    h.dataplane.failNext = true;
    await h.syncNow();
    t.regex(await h.scrape(), /^kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1$/m);
    t.deepEqual(h.conntrack.deleted, []);
    const deleting = nodeObject('node-a');
    h.emit(upsert('Node', { ...deleting, metadata: { ...deleting.metadata, deletionTimestamp: new Date().toISOString() } }));
    await h.syncNow();
    t.is(await h.probe('/healthz'), 503);
    t.is(await h.probe('/livez'), 200);
    const text = await h.scrape();
    t.regex(text, /^kubeproxy_proxy_healthz_total\{code="503"\} 1$/m);
    t.regex(text, /^kubeproxy_proxy_livez_total\{code="200"\} 1$/m);
  } finally {
    await h.daemon.stop();
    await h.node.stop();
  }
});

test('an invalid object is counted by kind', async (t) => {
  const h = await daemonWithNodeServices();
  try {
    h.emit(upsert('Service', serviceObject('bad', { clusterIP: 'not-an-ip' })));
    t.regex(await h.scrape(), /^switchyard_invalid_objects_total\{kind="Service"\} 1$/m);
    t.true(h.logger.lines.some((l) => l.level === 'warn' && /default\/bad/.test(l.msg ?? '')));
  } finally {
    await h.daemon.stop();
    await h.node.stop();
  }
});

test('--ready-file: a stale file is removed at start, written after the first successful sync, removed at stop', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ready-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'ready');
  await writeFile(path, 'left by a previous container of this pod\n');
  const h = await daemonWithNodeServices({}, ['--ready-file', path]);
  try {
    t.false(existsSync(path), 'removed at start');
    h.emit(upsert('Service', dnsService));
    h.emit({ type: 'synced', kind: 'Service' });
    h.emit({ type: 'synced', kind: 'EndpointSlice' });
    h.dataplane.failNext = true;
    await h.syncNow();
    t.false(existsSync(path), 'not after a failed sync');
    await h.syncNow();
    await until(() => existsSync(path));
    t.regex(await readFile(path, 'utf8'), new RegExp(`pid ${process.pid}`));
  } finally {
    await h.stop();
  }
  t.false(existsSync(path), 'removed at stop');
});

test('--ready-file: readiness that comes without a sync (an ingress bind retried) is noticed within a second', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ready-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'ready');
  const h = await daemonWithNodeServices({}, ['--ready-file', path]);
  let ready = false;
  h.node.watchReadiness(() => ready);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    t.false(existsSync(path), 'not before it is ready');
    ready = true;
    await until(() => existsSync(path));
    t.pass();
  } finally {
    await h.stop();
  }
});

const until = async (check: () => boolean): Promise<void> => {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
