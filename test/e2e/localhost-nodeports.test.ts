/**
 * Localhost NodePorts with `--nodeport-addresses 0.0.0.0/0,::/0`, real packets: kube-proxy's iptables mode answers
 * NodePorts on 127.0.0.1 (--iptables-localhost-nodeports, default true: route_localnet=1 plus its "block incoming
 * localnet connections" rule), its nftables mode never does. Both suites also check that the node's LAN address
 * still answers, and what a new connection from another host to the node's 127.0.0.1 meets.
 */
import { isFailure } from '../../lib/sandbox/agent-protocol.ts';
import { TOOLS } from '../../lib/sandbox/exec.ts';
import { NODE_A_IP, NODE_A_POD_GATEWAY, POD, url } from './support/fixture.ts';
import { scenarios } from './scenarios.ts';
import { echoOnce, sampleParallel, until } from './support/traffic.ts';
import { registerE2eSuite } from './support/suite.ts';
import type { E2eContext, Scenario } from './support/world.ts';

/** A port on the node's loopback that only a host process listens on (not a Service). */
const LOOPBACK_ONLY_PORT = 9391;
const ROUTE_TABLE = '391';

/**
 * For the length of `body`, the outside host sends packets for 127.0.0.1 to node-a instead of its own loopback, as an
 * attacker on the node's network would (CVE-2020-8558): its local-table rule moves behind one that routes 127.0.0.1
 * via node-a, and its own route_localnet lets the answer from 127.0.0.1 in.
 */
const outsideRoutesLoopbackToNodeA = async <T>(ctx: E2eContext, body: () => Promise<T>): Promise<T> => {
  const ip = (...args: string[]) => ctx.sandbox.exec('outside', [TOOLS.ip, ...args]);
  const must = async (...args: string[]) => {
    const r = await ip(...args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} in outside: ${r.stderr}`);
  };
  const localnet = '/proc/sys/net/ipv4/conf/all/route_localnet';
  await ctx.sandbox.exec('outside', ['/bin/sh', '-c', `echo 1 > ${localnet}`]);
  await must('route', 'add', '127.0.0.1/32', 'via', NODE_A_IP, 'table', ROUTE_TABLE);
  await must('rule', 'add', 'pref', '10', 'lookup', 'local');
  await must('rule', 'del', 'pref', '0');
  await must('rule', 'add', 'pref', '5', 'to', '127.0.0.1/32', 'lookup', ROUTE_TABLE);
  try {
    return await body();
  } finally {
    await ip('rule', 'del', 'pref', '5');
    await ip('rule', 'add', 'pref', '0', 'lookup', 'local');
    await ip('rule', 'del', 'pref', '10');
    await ip('route', 'flush', 'table', ROUTE_TABLE);
    await ctx.sandbox.exec('outside', ['/bin/sh', '-c', `echo 0 > ${localnet}`]);
  }
};

/** A TCP listener on node-a's 127.0.0.1 only (stopped by PID when the scenario ends). */
const loopbackListener = (ctx: E2eContext): (() => void) => {
  const script = `require('node:net').createServer((s) => s.end('loopback-only\\n')).listen(${LOOPBACK_ONLY_PORT}, '127.0.0.1', () => console.log('listening'))`;
  const child = ctx.sandbox.spawn('node-a', [process.execPath, '-e', script]);
  return () => child.kill('SIGTERM');
};

const localhostScenario: Scenario = {
  id: 19,
  title: 'NodePort on 127.0.0.1 from the node: answered and masqueraded in iptables mode, refused in nftables mode; the node\'s loopback stays closed to other hosts',
  run: async (ctx) => {
    const node = ctx.sandbox.agent('node-a');
    if (ctx.mode === 'iptables') {
      const s = await sampleParallel(node, url('127.0.0.1', 30080), 20);
      ctx.t.is(s.failures.length, 0, `node-a → 127.0.0.1:30080 ×20: ${s.summary}`);
      ctx.t.deepEqual([...s.pods.keys()].sort(), [POD.a2.name, POD.b1.name].sort(), s.summary);
      ctx.t.true([...s.clientIPs].every((ip) => ip === NODE_A_IP || ip === NODE_A_POD_GATEWAY), `masqueraded to a node-a address: ${[...s.clientIPs].join(', ')}`);
      const routeLocalnet = await ctx.sandbox.exec('node-a', ['/bin/cat', '/proc/sys/net/ipv4/conf/all/route_localnet']);
      ctx.t.is(routeLocalnet.stdout.trim(), '1');
    } else {
      const r = await echoOnce(node, url('127.0.0.1', 30080), { timeoutMs: 2_000 });
      ctx.t.true(isFailure(r) && r.error === 'ECONNREFUSED', `nftables mode has no localhost NodePorts: ${JSON.stringify(r)}`);
    }

    const stop = loopbackListener(ctx);
    try {
      // The listener answers the node itself…
      await until(`node-a reaching its own 127.0.0.1:${LOOPBACK_ONLY_PORT}`, async () => {
        const own = await node.tcpConnect('127.0.0.1', LOOPBACK_ONLY_PORT, { timeoutMs: 1_000 });
        return isFailure(own) ? undefined : own;
      }, { timeoutMs: 10_000, intervalMs: 100 });
      // …and never a neighbour: route_localnet=1 would let the packet in, the guard rule drops it (iptables mode);
      // without route_localnet (nftables mode) the kernel drops it as a martian.
      const fromOutside = await outsideRoutesLoopbackToNodeA(ctx, () =>
        ctx.sandbox.agent('outside').tcpConnect('127.0.0.1', LOOPBACK_ONLY_PORT, { timeoutMs: 1_000 }));
      ctx.t.true(isFailure(fromOutside) && fromOutside.error === 'ETIMEDOUT', `outside → node-a's 127.0.0.1:${LOOPBACK_ONLY_PORT}: expected a drop, got ${JSON.stringify(fromOutside)}`);
    } finally {
      stop();
    }
  },
};

/** Outside → NodePort on the LAN address still works with the wider --nodeport-addresses. */
const NODE_ADDRESS_SCENARIOS = new Set([3]);
const everywhere = { extraArgs: () => ['--nodeport-addresses', '0.0.0.0/0,::/0'] };

for (const mode of ['iptables', 'nftables'] as const) {
  registerE2eSuite(mode, [...scenarios.filter((s) => NODE_ADDRESS_SCENARIOS.has(s.id)), localhostScenario], {
    label: `${mode} localhost-nodeports`,
    ...everywhere,
  });
}
