/**
 * Stale UDP conntrack entries, on the real kernel: a client in pod-a1 keeps sending to a UDP ClusterIP from ONE
 * source port while the Service's only endpoint is replaced (pod-a2 -> pod-b1) by rewriting its EndpointSlice in
 * the daemon's manifests directory. Without cleanup the flow's conntrack entry keeps DNATing to pod-a2 for as long
 * as the client keeps sending; switchyard deletes it after the sync, so packets reach pod-b1 within a second of it.
 */
import test from 'ava';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFailure, type EchoUdpBody, type UdpStreamResult } from '../../lib/sandbox/agent-protocol.ts';
import { Sandbox } from '../../lib/sandbox/sandbox.ts';
import { defaultSandboxSpec } from '../../lib/sandbox/spec.ts';

import { netnsSkipReason } from '../support/netns.ts';
import { DaemonProcess, REPO_ROOT } from './support/daemon.ts';
import { NODE_A_IP, POD, UDP_PORT, podSpecs } from './support/fixture.ts';
import { endpointSlices, node, service, yamlFile, type ServiceSpec } from './support/manifests.ts';
import { until } from './support/traffic.ts';

const SERVICE: ServiceSpec = { name: 'udp-swap', clusterIPs: ['10.96.0.200'], ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: UDP_PORT }] };
const VIP = '10.96.0.200';

const endpointFile = (pod: 'a2' | 'b1'): string =>
  yamlFile([service(SERVICE), ...endpointSlices(SERVICE, [{ ip: POD[pod].ipv4, node: POD[pod].node }])]);

/** Written atomically (rename), as an editor or kubectl-apply-to-dir would. */
const writeAtomically = async (path: string, text: string): Promise<void> => {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
};

const podOf = (data: string): string | undefined => {
  try {
    return (JSON.parse(data) as EchoUdpBody).pod;
  } catch {
    return undefined;
  }
};

const run = netnsSkipReason ? test.skip : test;
if (netnsSkipReason) console.log(`[conntrack e2e] skipped: ${netnsSkipReason}`);

run('a one-port UDP flow follows its Service to the new endpoint within a second of the sync', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-conntrack-'));
  let sandbox: Sandbox | undefined;
  let daemon: DaemonProcess | undefined;
  try {
    sandbox = await Sandbox.create(defaultSandboxSpec(podSpecs));
    await writeFile(join(dir, 'nodes.yaml'), yamlFile([node('node-a', [NODE_A_IP], ['10.244.1.0/24']), node('node-b', ['192.168.50.11'], ['10.244.2.0/24'])]));
    const servicePath = join(dir, 'service.yaml');
    await writeFile(servicePath, endpointFile('a2'));
    daemon = new DaemonProcess(sandbox, 'node-a', [
      process.execPath, join(REPO_ROOT, 'cmd/switchyard.ts'),
      '--manifests', dir, '--hostname-override', 'node-a', '--cluster-cidr', '10.244.0.0/16',
      '--healthz-bind-address', '', '--metrics-bind-address', '', '--ingress-http-address', '', '--ingress-https-address', '',
      '-v', '4',
    ]);
    daemon.start();
    const client = sandbox.agent('pod-a1');
    await until('the ClusterIP answers from pod-a2', async () => {
      const r = await client.udp(VIP, 53, 'hello', { timeoutMs: 500 });
      return !isFailure(r) && podOf(r.reply) === POD.a2.name ? true : undefined;
    }, { timeoutMs: 20_000, describe: () => daemon?.tail() ?? '' });

    const streamStarted = Date.now();
    const stream = client.udpStream(VIP, 53, { intervalMs: 50, durationMs: 7_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    const syncsBefore = daemon.linesWith('"msg":"synced"').length;
    const rewrittenAt = Date.now() - streamStarted;
    await writeAtomically(servicePath, endpointFile('b1'));
    const { ms: syncMs } = await until('the daemon synced the new endpoint', async () =>
      (daemon?.linesWith('"msg":"synced"').length ?? 0) > syncsBefore ? true : undefined,
    { timeoutMs: 4_000, intervalMs: 20 });
    const syncedAt = rewrittenAt + syncMs;
    const result = await stream;
    if (isFailure(result)) return t.fail(`udp stream failed: ${result.error} ${result.message ?? ''}`);
    const replies = (result as UdpStreamResult).replies.map((r) => ({ at: r.atMs, pod: podOf(r.data) }));
    const firstNew = replies.find((r) => r.pod === POD.b1.name);
    const lastOld = replies.filter((r) => r.pod === POD.a2.name).at(-1);
    t.log(`sent ${result.sent} datagrams from one port (${result.localPort}); ${replies.length} replies`);
    t.log(`rewrite at ${rewrittenAt} ms, sync logged ~${syncedAt} ms, last pod-a2 reply ${lastOld?.at} ms, first pod-b1 reply ${firstNew?.at} ms`);
    t.truthy(lastOld, 'the flow reached pod-a2 before the change');
    t.truthy(firstNew, `the flow never reached pod-b1:\n${daemon.tail()}`);
    if (!firstNew || !lastOld) return;
    t.true(firstNew.at - syncedAt < 1_000, `pod-b1 answered ${firstNew.at - syncedAt} ms after the sync`);
    t.true(replies.filter((r) => r.at > firstNew.at).every((r) => r.pod === POD.b1.name), 'no reply from pod-a2 once pod-b1 answered');
    // The kernel agrees: the flow's entry now points at pod-b1.
    const listed = await sandbox.exec('node-a', ['/usr/sbin/conntrack', '-L', '-p', 'udp', '--orig-dst', VIP]);
    t.log(listed.stdout.trim());
    t.notRegex(listed.stdout, new RegExp(`src=${POD.a2.ipv4.replaceAll('.', '\\.')} `));
  } finally {
    await daemon?.stop();
    await sandbox?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
