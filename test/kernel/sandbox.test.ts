/**
 * The sandbox on the real kernel: pod and node reachability, a hand-written nft DNAT in node-a (proves the pod
 * bridge's hairpin + br_netfilter behaviour kube-proxy relies on), UDP, IPv6, and a destroy that leaves nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { netnsTest, sharedSandbox, ok, clientIP } from '../support/netns.ts';
import { Sandbox } from '../../lib/sandbox/sandbox.ts';
import { defaultSandboxSpec, type PodSpec } from '../../lib/sandbox/spec.ts';
import { TOOLS, run } from '../../lib/sandbox/exec.ts';
import { listNetns, runDir, sweepStaleSandboxes, RUN_ROOT } from '../../lib/sandbox/registry.ts';
import { isFailure, type EchoUdpBody } from '../../lib/sandbox/agent-protocol.ts';

const test = netnsTest('sandbox');

const pods: PodSpec[] = [
  { name: 'pod-a1', node: 'node-a', ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10', tcpPorts: [8080], udpPorts: [5353] },
  { name: 'pod-a2', node: 'node-a', ipv4: '10.244.1.11', ipv6: 'fd00:244:1::11', tcpPorts: [8080], udpPorts: [5353] },
  { name: 'pod-b1', node: 'node-b', ipv4: '10.244.2.10', ipv6: 'fd00:244:2::10', tcpPorts: [8080, 9090], udpPorts: [5353] },
];
const shared = sharedSandbox(defaultSandboxSpec(pods));

test('pod to pod on the same node keeps the client address', async (t) => {
  const r = ok(await shared.get().agent('pod-a1').echo('http://10.244.1.11:8080/same'));
  t.is(r.pod, 'pod-a2');
  t.is(r.path, '/same');
  t.is(clientIP(r.client), '10.244.1.10');
});

test('pod to pod across nodes is routed via the LAN', async (t) => {
  const sb = shared.get();
  const [a, b] = await Promise.all([sb.agent('pod-a1').echo('http://10.244.2.10:9090/'), sb.agent('pod-b1').echo('http://10.244.1.11:8080/')]);
  t.is(ok(a).pod, 'pod-b1');
  t.is(ok(a).port, 9090);
  t.is(clientIP(ok(a).client), '10.244.1.10');
  t.is(ok(b).pod, 'pod-a2');
  t.is(clientIP(ok(b).client), '10.244.2.10');
});

test('IPv6 pod to pod across nodes', async (t) => {
  const r = ok(await shared.get().agent('pod-a1').echo('http://[fd00:244:2::10]:8080/v6'));
  t.is(r.pod, 'pod-b1');
  t.is(clientIP(r.client), 'fd00:244:1::10');
});

test('UDP echo names the pod and the client', async (t) => {
  const r = ok(await shared.get().agent('pod-b1').udp('10.244.1.10', 5353, 'hello'));
  const body = JSON.parse(r.reply) as EchoUdpBody;
  t.is(body.pod, 'pod-a1');
  t.is(body.payload, 'hello');
  t.is(clientIP(body.client), '10.244.2.10');
  const v6 = ok(await shared.get().agent('pod-a2').udp('fd00:244:2::10', 5353));
  t.is((JSON.parse(v6.reply) as EchoUdpBody).pod, 'pod-b1');
});

test('outside host reaches a process in node-a on its LAN IP, and the node agent works', async (t) => {
  const sb = shared.get();
  const child = sb.spawn('node-a', [process.execPath, new URL('../../lib/sandbox/echo-server.ts', import.meta.url).pathname, '--name', 'node-a-host', '--tcp', '18080']);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`echo server in node-a exited ${code}`)));
  });
  const r = ok(await sb.agent('outside').echo('http://192.168.50.10:18080/'));
  t.is(r.pod, 'node-a-host');
  t.is(clientIP(r.client), '192.168.50.100');
  const fromNode = ok(await sb.agent('node-a').echo('http://10.244.2.10:8080/'));
  t.is(fromNode.pod, 'pod-b1');
  child.kill('SIGTERM');
});

test('agent reports refused connections and UDP port unreachable as codes', async (t) => {
  const agent = shared.get().agent('pod-a1');
  const [http, udp, tcp] = await Promise.all([
    agent.http('http://10.244.1.11:1/', { timeoutMs: 1000 }),
    agent.udp('10.244.1.11', 9, 'x', { timeoutMs: 1000 }),
    agent.tcpConnect('10.244.2.10', 8080),
  ]);
  t.true(isFailure(http) && http.error === 'ECONNREFUSED', JSON.stringify(http));
  t.true(isFailure(udp) && udp.error === 'ECONNREFUSED', JSON.stringify(udp));
  t.true(!isFailure(tcp) && tcp.connected);
});

test('hand-written nft DNAT in node-a: same-bridge pod, hairpin to itself, outside, UDP', async (t) => {
  const sb = shared.get();
  // A throwaway table shaped like kube-proxy's: DNAT in prerouting (and output), masquerade marked traffic.
  const rules = `
table ip sandbox_test {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.96.0.100 tcp dport 80 dnat to 10.244.1.11:8080
    ip daddr 10.96.0.100 udp dport 53 dnat to 10.244.1.11:5353
    ip daddr 10.96.0.101 tcp dport 80 dnat to 10.244.1.10:8080
    ip daddr 192.168.60.100 tcp dport 80 dnat to 10.244.1.11:8080
    ip daddr 192.168.60.101 tcp dport 80 dnat to 10.244.2.10:8080
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.244.1.10 ip daddr 10.244.1.10 masquerade
    ip daddr 10.244.2.10 ip saddr 192.168.50.0/24 masquerade
  }
}`;
  const load = await sb.exec('node-a', [TOOLS.nft, '-f', '-'], { input: rules });
  t.is(load.code, 0, load.stderr);
  const a1 = sb.agent('pod-a1');
  const outside = sb.agent('outside');
  const [sameBridge, hairpin, udp, lbLocal, lbRemote] = await Promise.all([
    a1.echo('http://10.96.0.100/'),
    a1.echo('http://10.96.0.101/'),
    a1.udp('10.96.0.100', 53, 'via-vip'),
    outside.echo('http://192.168.60.100/'),
    outside.echo('http://192.168.60.101/'),
  ]);
  // The reply from pod-a2 to pod-a1 is bridged; it is only un-NATed because br_netfilter passes it to conntrack.
  t.is(ok(sameBridge, 'pod-a1 -> VIP -> pod-a2').pod, 'pod-a2');
  t.is(clientIP(ok(sameBridge).client), '10.244.1.10');
  // Back out of the port it came in: needs hairpin mode on the bridge port.
  t.is(ok(hairpin, 'pod-a1 -> VIP -> pod-a1').pod, 'pod-a1');
  t.is(clientIP(ok(hairpin).client), '10.244.1.1');
  const udpBody = JSON.parse(ok(udp, 'udp via VIP').reply) as EchoUdpBody;
  t.is(udpBody.pod, 'pod-a2');
  t.is(ok(udp).from, '10.96.0.100:53');
  t.is(ok(lbLocal, 'outside -> LB -> local pod').pod, 'pod-a2');
  t.is(clientIP(ok(lbLocal).client), '192.168.50.100');
  t.is(ok(lbRemote, 'outside -> LB -> pod on node-b').pod, 'pod-b1');
  t.is(clientIP(ok(lbRemote).client), '192.168.50.10');
  await sb.exec('node-a', [TOOLS.nft, 'delete', 'table', 'ip', 'sandbox_test']);
});

test('routed pod network (the fallback without br_netfilter) connects pods too', async (t) => {
  const sb = await Sandbox.create(defaultSandboxSpec([pods[0]!, { ...pods[1]!, udpPorts: [] }, pods[2]!], {
    podNetwork: 'routed', agents: ['pod-a1'],
  }));
  try {
    t.is(sb.podNetwork, 'routed');
    const [same, other, v6] = await Promise.all([
      sb.agent('pod-a1').echo('http://10.244.1.11:8080/'),
      sb.agent('pod-a1').echo('http://10.244.2.10:8080/'),
      sb.agent('pod-a1').echo('http://[fd00:244:2::10]:8080/'),
    ]);
    t.is(ok(same).pod, 'pod-a2');
    t.is(ok(other).pod, 'pod-b1');
    t.is(ok(v6).pod, 'pod-b1');
  } finally {
    await sb.destroy();
  }
});

test('destroy leaves no namespace, process or run directory', async (t) => {
  const started = Date.now();
  const sb = await Sandbox.create(defaultSandboxSpec([pods[0]!]));
  const built = Date.now() - started;
  const extra = sb.spawn('node-b', ['/usr/bin/sleep', '300']);
  const pids = sb.pids();
  t.true(pids.includes(extra.pid!));
  t.true(pids.length >= 5, `echo + 4 agents + sleep, got ${pids.length}`); // echo, agents in pod/outside/node-a/node-b
  const ours = (await listNetns()).filter((n) => n.startsWith(`${sb.prefix}-`));
  t.deepEqual(ours.sort(), sb.namespaces().map((n) => n.netns).sort());
  const t0 = Date.now();
  await sb.destroy();
  t.log(`build ${built} ms (${JSON.stringify(sb.timings)}), destroy ${Date.now() - t0} ms`);
  t.deepEqual((await listNetns()).filter((n) => n.startsWith(`${sb.prefix}-`)), []);
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} still alive`);
  t.false(existsSync(runDir(sb.prefix)));
});

test('the startup sweep removes namespaces whose creator is dead and keeps live ones', async (t) => {
  const prefix = `sy-${randomBytes(3).toString('hex')}`;
  const netns = `${prefix}-node-a`;
  t.is((await run([TOOLS.ip, 'netns', 'add', netns])).code, 0);
  await mkdir(runDir(prefix), { recursive: true });
  await writeFile(`${runDir(prefix)}/creator`, '999999999 1\n'); // no such PID
  const live = shared.get().prefix;
  const removed = await sweepStaleSandboxes();
  t.true(removed.includes(prefix));
  t.false(removed.includes(live));
  const left = await listNetns();
  t.false(left.includes(netns));
  t.true(left.includes(shared.get().netns('node-a')));
  t.false(existsSync(runDir(prefix)));
  t.true(existsSync(`${RUN_ROOT}/${live}/creator`));
});
