/**
 * runDemo end to end on the real kernel, with a stand-in daemon (a shell script loading a fixed nft table) so the
 * demo's own work is tested: sandbox from manifests, daemon per node, probes, readable rounds, full cleanup.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsTest } from '../support/netns.ts';
import { runDemo } from '../../lib/demo/demo.ts';
import { listNetns } from '../../lib/sandbox/registry.ts';

const test = netnsTest('sandbox demo');

const manifests = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, nodePort: 30080}]
status: {loadBalancer: {ingress: [{ip: 192.168.60.100}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.10], nodeName: node-a, targetRef: {kind: Pod, name: web-a, namespace: default}}
- {addresses: [10.244.2.10], nodeName: node-b, targetRef: {kind: Pod, name: web-b, namespace: default}}
`;

// Round-robin DNAT for the ClusterIP, NodePort and LB IP, masquerading what leaves for the other node or hairpins.
const fakeDaemon = `/usr/sbin/nft -f - <<'RULES'
table ip fakeproxy {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    ip daddr { 10.96.0.10, 192.168.60.100 } tcp dport 80 dnat to numgen inc mod 2 map { 0 : 10.244.1.10, 1 : 10.244.2.10 } : 8080
    ip daddr 192.168.50.10 tcp dport 30080 dnat to numgen inc mod 2 map { 0 : 10.244.1.10, 1 : 10.244.2.10 } : 8080
  }
  chain post { type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip saddr 192.168.50.0/24 masquerade
    ct status dnat ip saddr 10.244.1.10 ip daddr 10.244.1.10 masquerade
  }
}
RULES
exec /usr/bin/sleep 600`;

test('runDemo shows which pod answered each probe and removes everything on abort', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-demo-test-'));
  await writeFile(join(dir, 'web.yaml'), manifests);
  const lines: string[] = [];
  const controller = new AbortController();
  const argvSeen: string[][] = [];
  const done = runDemo({
    examplesDir: dir,
    daemonArgv: (node, manifestsDir) => { argvSeen.push([node, manifestsDir]); return ['/bin/sh', '-c', fakeDaemon]; },
    log: (line) => {
      lines.push(line);
      if (line.startsWith('— round 2')) setTimeout(() => controller.abort(), 50);
    },
    signal: controller.signal,
    intervalMs: 200,
    requests: 8,
  });
  const timeout = setTimeout(() => controller.abort(), 30_000);
  const code = await done;
  clearTimeout(timeout);
  await rm(dir, { recursive: true, force: true });
  t.log(lines.join('\n'));
  t.is(code, 0);
  t.deepEqual(argvSeen.map(([node]) => node), ['node-a', 'node-b']);
  const round = lines.slice(lines.findIndex((l) => l.startsWith('— round 1')));
  for (const label of ['ClusterIP default/web', 'NodePort default/web', 'LoadBalancer default/web']) {
    const line = round.find((l) => l.includes(label)) ?? '';
    // Both pods answer; exact counts depend on how concurrent probes interleave on the shared round-robin rule.
    t.regex(line, /→ web-a ×\d+ {2}web-b ×\d+$/, label);
  }
  const prefix = /sandbox (sy-[0-9a-f]{6}) ready/.exec(lines.join('\n'))?.[1];
  t.truthy(prefix);
  t.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
});

test('runDemo explains and fails when the manifests have no pods on sandbox nodes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-demo-test-'));
  const lines: string[] = [];
  const code = await runDemo({ examplesDir: dir, daemonArgv: () => ['/bin/true'], log: (l) => lines.push(l), signal: new AbortController().signal });
  await rm(dir, { recursive: true, force: true });
  t.is(code, 1);
  t.regex(lines.join('\n'), /no EndpointSlice .* has endpoints on node-a or node-b/);
});
