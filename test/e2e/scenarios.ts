/**
 * End-to-end scenarios with real packets against the real daemon, independent of the proxy mode: each one drives
 * traffic through the sandbox's agents and, where it needs a change, rewrites its own file in the manifests
 * directory (see support/fixture.ts for the cluster and the Services). Run serially, in this order, by
 * support/suite.ts; the last four run a surge rollout beside the daemon, stop and restart it, and finally clean it up.
 */
import { TOOLS } from '../../lib/sandbox/exec.ts';
import { isFailure, type AgentFailure, type EchoUdpBody } from '../../lib/sandbox/agent-protocol.ts';
import { clientIP } from '../support/netns.ts';
import {
  EXTERNAL_IP, LB_IP, NODE_A_IP, NODE_A_POD_GATEWAY, NODE_B_IP, OUTSIDE_IP, OUTSIDE_SECOND_IP, POD, SVC, ep, serviceFile, url,
} from './support/fixture.ts';
import { DAEMON_SCRIPT } from './support/daemon.ts';
import { handoverScenario } from './handover-scenario.ts';
import { RequestLoop, describeOutcome, echoOnce, sampleParallel, sampleSequential, until, type Outcome, type Sample } from './support/traffic.ts';
import type { E2eContext, Scenario } from './support/world.ts';

/** How long a "dropped" probe waits before calling it dropped. */
const DROP_WAIT_MS = 1_000;

const sorted = (pods: ReadonlyMap<string, number>): string[] => [...pods.keys()].sort();

/** Every request answered, and by exactly `pods`. */
const assertAnsweredBy = (ctx: E2eContext, sample: Sample, pods: readonly string[], what: string): void => {
  ctx.t.is(sample.failures.length, 0, `${what}: ${sample.summary}`);
  ctx.t.deepEqual(sorted(sample.pods), [...pods].sort(), `${what}: ${sample.summary}`);
};

/** A TCP connect that must be silently dropped: a timeout, not a reset or an ICMP error. */
const assertDropped = async (ctx: E2eContext, from: string, host: string, port: number, what: string): Promise<void> => {
  const r = await ctx.sandbox.agent(from).tcpConnect(host, port, { timeoutMs: DROP_WAIT_MS });
  ctx.t.true(isFailure(r) && r.error === 'ETIMEDOUT', `${what}: expected a timeout (dropped), got ${JSON.stringify(r)}`);
};

/**
 * Waits until `probe` is dropped: a short-timeout failure confirmed by a second probe with the full drop wait (so a
 * slow answer under load is not taken for a drop). Resolves with the confirming outcome.
 */
const untilDropped = async (what: string, probe: (timeoutMs: number) => Promise<Outcome>): Promise<Outcome> =>
  (await until(what, async () => {
    if (!isFailure(await probe(300))) return undefined;
    const confirm = await probe(DROP_WAIT_MS);
    return isFailure(confirm) ? confirm : undefined;
  }, { timeoutMs: 5_000, intervalMs: 20 })).value;

/** The rules switchyard owns in node-a, as text lines (nftables and both iptables flavours). */
const ownedRuleLines = async (ctx: E2eContext): Promise<string[]> => {
  const dumps = await Promise.all([
    ctx.sandbox.exec('node-a', [TOOLS.nft, 'list', 'ruleset']),
    ctx.sandbox.exec('node-a', ['/usr/sbin/iptables-save']),
    ctx.sandbox.exec('node-a', ['/usr/sbin/ip6tables-save']),
    ctx.sandbox.exec('node-a', ['/usr/sbin/iptables-legacy-save']),
  ]);
  return dumps.flatMap((d) => d.stdout.split('\n')).filter((l) => /switchyard/i.test(l));
};

const a1 = (ctx: E2eContext) => ctx.sandbox.agent(POD.a1.name);
const outside = (ctx: E2eContext) => ctx.sandbox.agent('outside');

export const scenarios: readonly Scenario[] = [
  {
    id: 1,
    title: 'pod → ClusterIP reaches both endpoints, the one on the other node included',
    run: async (ctx) => {
      const s = await sampleParallel(a1(ctx), url(SVC.web.clusterIPs[0]), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name, POD.b1.name], 'pod-a1 → web ClusterIP ×20');
    },
  },
  {
    id: 2,
    title: 'pod → ClusterIP: the endpoint sees the client pod\'s own IP (no masquerade in-cluster)',
    run: async (ctx) => {
      const s = await sampleParallel(a1(ctx), url(SVC.web.clusterIPs[0]), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name, POD.b1.name], 'pod-a1 → web ClusterIP ×20');
      ctx.t.deepEqual([...s.clientIPs], [POD.a1.ipv4], `client IPs seen: ${[...s.clientIPs].join(', ')}`);
    },
  },
  {
    id: 3,
    title: 'outside → NodePort on node-a (Cluster policy): both endpoints, masqueraded to node-a',
    run: async (ctx) => {
      const s = await sampleParallel(outside(ctx), url(NODE_A_IP, 30080), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name, POD.b1.name], 'outside → node-a:30080 ×20');
      const remote = s.answers.filter((a) => a.pod === POD.b1.name).map((a) => a.clientIP);
      ctx.t.deepEqual([...new Set(remote)], [NODE_A_IP], 'pod-b1 (remote) sees node-a\'s LAN address');
      const local = s.answers.filter((a) => a.pod === POD.a2.name).map((a) => a.clientIP);
      ctx.t.true(local.every((ip) => ip === NODE_A_POD_GATEWAY || ip === NODE_A_IP), `pod-a2 (local) sees a node-a address, saw ${[...new Set(local)].join(', ')}`);
    },
  },
  {
    id: 4,
    title: 'externalTrafficPolicy Local: only the local endpoint, client IP kept; no local endpoint → dropped',
    run: async (ctx) => {
      const s = await sampleParallel(outside(ctx), url(NODE_A_IP, 30081), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name], 'outside → node-a:30081 (eTP Local) ×20');
      ctx.t.deepEqual([...s.clientIPs], [OUTSIDE_IP], 'the endpoint sees the outside host\'s real IP');
      // The Service is programmed (its ClusterIP works); only external traffic to node-a finds no local endpoint.
      const inCluster = await echoOnce(a1(ctx), url(SVC.nodeportLocalRemote.clusterIPs[0]));
      ctx.t.is(isFailure(inCluster) ? inCluster.error : inCluster.pod, POD.b1.name, 'ClusterIP of the eTP Local Service with a remote endpoint');
      await assertDropped(ctx, 'outside', NODE_A_IP, 30082, 'outside → node-a:30082 (eTP Local, endpoint only on node-b)');

      // The same Services seen through node-b (its own daemon, same manifests): there, pod-b1 is the local one.
      const nodeB = ctx.daemon('node-b');
      if (!nodeB.running) nodeB.start();
      const servedB = await until('node-b\'s daemon serving its NodePort', async () => {
        if (!nodeB.running) throw new Error(`daemon in node-b exited:\n${nodeB.tail()}`);
        const r = await echoOnce(outside(ctx), url(NODE_B_IP, 30082), { timeoutMs: 300 });
        return isFailure(r) ? undefined : r;
      }, { timeoutMs: 15_000, intervalMs: 100 });
      ctx.t.deepEqual(servedB.value, { pod: POD.b1.name, clientIP: OUTSIDE_IP }, 'outside → node-b:30082 (eTP Local, endpoint on node-b)');
      const sB = await sampleParallel(outside(ctx), url(NODE_B_IP, 30081), 20);
      assertAnsweredBy(ctx, sB, [POD.b1.name], 'outside → node-b:30081 (eTP Local) ×20');
      ctx.t.deepEqual([...sB.clientIPs], [OUTSIDE_IP], 'node-b keeps the client IP too');
    },
  },
  {
    id: 5,
    title: 'no endpoints → fast reject: TCP ECONNREFUSED, UDP ICMP error',
    run: async (ctx) => {
      const vip = SVC.empty.clusterIPs[0];
      const tcp: AgentFailure[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await a1(ctx).tcpConnect(vip, 80, { timeoutMs: 3_000 });
        ctx.t.true(isFailure(r) && r.error === 'ECONNREFUSED', `TCP connect ${i}: ${JSON.stringify(r)}`);
        if (isFailure(r)) tcp.push(r);
      }
      const tcpMax = Math.max(...tcp.map((r) => r.durationMs));
      ctx.measure('reject latency, TCP connect (max of 5)', tcpMax);
      ctx.t.true(tcpMax <= 100, `TCP reject took ${tcpMax} ms`);
      const udp = await a1(ctx).udp(vip, 53, 'anyone?', { timeoutMs: 3_000 });
      ctx.t.true(isFailure(udp) && udp.error === 'ECONNREFUSED', `UDP: ${JSON.stringify(udp)}`);
      if (isFailure(udp)) {
        ctx.measure('reject latency, UDP (ICMP port unreachable)', udp.durationMs);
        ctx.t.true(udp.durationMs <= 250, `UDP reject took ${udp.durationMs} ms`);
      }
    },
  },
  {
    id: 6,
    title: 'sessionAffinity ClientIP: every request from one client hits the same endpoint',
    run: async (ctx) => {
      const s = await sampleSequential(a1(ctx), url(SVC.sticky.clusterIPs[0]), 10);
      ctx.t.is(s.failures.length, 0, s.summary);
      ctx.t.is(s.pods.size, 1, `affinity broken: ${s.summary}`);
    },
  },
  {
    id: 7,
    title: 'LoadBalancer IP from outside; loadBalancerSourceRanges drop other sources',
    run: async (ctx) => {
      const lb = url(LB_IP);
      const s = await sampleParallel(outside(ctx), lb, 20);
      assertAnsweredBy(ctx, s, [POD.a2.name, POD.b1.name], 'outside → LB IP ×20 (no ranges)');
      const fromSecond = await echoOnce(outside(ctx), lb, { localAddress: OUTSIDE_SECOND_IP });
      ctx.t.false(isFailure(fromSecond), `from ${OUTSIDE_SECOND_IP} before any range: ${describeOutcome(fromSecond)}`);

      // Step 1: only the primary address may connect.
      await ctx.manifests.write('lb.yaml', serviceFile({ ...SVC.lb, loadBalancerSourceRanges: [`${OUTSIDE_IP}/32`] }, [ep('a2'), ep('b1')]));
      const dropped = await untilDropped(`${OUTSIDE_SECOND_IP} dropped once the ranges exclude it`,
        (timeoutMs) => echoOnce(outside(ctx), lb, { localAddress: OUTSIDE_SECOND_IP, timeoutMs }));
      ctx.t.true(isFailure(dropped) && dropped.error === 'ETIMEDOUT', `outside source ${OUTSIDE_SECOND_IP}: ${describeOutcome(dropped)}`);
      const inside = await sampleParallel(outside(ctx), lb, 5, { localAddress: OUTSIDE_IP });
      ctx.t.is(inside.failures.length, 0, `inside source ${OUTSIDE_IP}: ${inside.summary}`);

      // Step 2: the other way round.
      await ctx.manifests.write('lb.yaml', serviceFile({ ...SVC.lb, loadBalancerSourceRanges: [`${OUTSIDE_SECOND_IP}/32`] }, [ep('a2'), ep('b1')]));
      const droppedNow = await untilDropped(`${OUTSIDE_IP} dropped once the ranges exclude it`,
        (timeoutMs) => echoOnce(outside(ctx), lb, { localAddress: OUTSIDE_IP, timeoutMs }));
      const served = await sampleParallel(outside(ctx), lb, 5, { localAddress: OUTSIDE_SECOND_IP });
      ctx.t.is(served.failures.length, 0, `inside source ${OUTSIDE_SECOND_IP}: ${served.summary}`);
      ctx.t.true(isFailure(droppedNow) && droppedNow.error === 'ETIMEDOUT', `outside source ${OUTSIDE_IP}: ${describeOutcome(droppedNow)}`);
    },
  },
  {
    id: 8,
    title: 'externalIPs from outside reach the endpoints',
    run: async (ctx) => {
      const s = await sampleParallel(outside(ctx), url(EXTERNAL_IP), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name, POD.b1.name], `outside → ${EXTERNAL_IP} ×20`);
    },
  },
  {
    id: 9,
    title: 'hairpin: a pod reaches itself through its Service and sees a masqueraded source',
    run: async (ctx) => {
      const s = await sampleParallel(a1(ctx), url(SVC.hairpin.clusterIPs[0]), 5);
      assertAnsweredBy(ctx, s, [POD.a1.name], 'pod-a1 → its own Service ×5');
      ctx.t.false(s.clientIPs.has(POD.a1.ipv4), `pod-a1 saw its own IP as the source: ${[...s.clientIPs].join(', ')}`);
      ctx.t.deepEqual([...s.clientIPs], [NODE_A_POD_GATEWAY], 'masqueraded to node-a\'s pod bridge address');
    },
  },
  {
    id: 10,
    title: 'UDP ClusterIP reaches the echo servers\' UDP port',
    run: async (ctx) => {
      const vip = SVC.web.clusterIPs[0];
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => a1(ctx).udp(vip, 53, `ping ${i}`, { timeoutMs: 2_000 })));
      const failures = replies.filter(isFailure);
      ctx.t.is(failures.length, 0, `UDP failures: ${JSON.stringify(failures.slice(0, 3))}`);
      const bodies = replies.flatMap((r) => (isFailure(r) ? [] : [r])).map((r) => ({ from: r.from, body: JSON.parse(r.reply) as EchoUdpBody }));
      ctx.t.deepEqual([...new Set(bodies.map((b) => b.from))], [`${vip}:53`], 'replies come from the ClusterIP');
      ctx.t.deepEqual([...new Set(bodies.map((b) => b.body.pod))].sort(), [POD.a2.name, POD.b1.name], 'both endpoints answer over 20 flows');
      ctx.t.deepEqual([...new Set(bodies.map((b) => clientIP(b.body.client)))], [POD.a1.ipv4], 'client IP kept');
    },
  },
  {
    id: 11,
    title: 'terminating fallback: serving+terminating endpoints used until a ready one appears',
    run: async (ctx) => {
      const vip = url(SVC.terminating.clusterIPs[0]);
      // This scenario checks which endpoints are chosen, not how fast (scenario 12 does): its waits leave room for a
      // loaded machine.
      const before = await sampleParallel(a1(ctx), vip, 20, { timeoutMs: 5_000 });
      assertAnsweredBy(ctx, before, [POD.a2.name, POD.b1.name], 'only terminating endpoints ×20');
      await ctx.manifests.write('terminating.yaml', serviceFile(SVC.terminating, [ep('a2', 'ready'), ep('b1', 'terminating')]));
      await until('only the ready endpoint answering', async () => {
        const s = await sampleParallel(a1(ctx), vip, 8, { timeoutMs: 2_000 });
        return s.failures.length === 0 && s.pods.size === 1 && s.pods.has(POD.a2.name) ? s : undefined;
      }, { timeoutMs: 10_000, intervalMs: 20 });
      const after = await sampleParallel(a1(ctx), vip, 20, { timeoutMs: 5_000 });
      assertAnsweredBy(ctx, after, [POD.a2.name], 'one ready + one terminating ×20');
    },
  },
  {
    id: 12,
    title: 'an endpoint change and a Service deletion take effect within 1 s',
    run: async (ctx) => {
      const vip = url(SVC.move.clusterIPs[0]);
      const first = await echoOnce(a1(ctx), vip);
      ctx.t.is(isFailure(first) ? first.error : first.pod, POD.a2.name, 'before the change');
      const movedAt = await ctx.manifests.write('move.yaml', serviceFile(SVC.move, [ep('b1')]));
      await until('the new endpoint answering', async () => {
        const r = await echoOnce(a1(ctx), vip, { timeoutMs: 500 });
        return !isFailure(r) && r.pod === POD.b1.name ? r : undefined;
      }, { timeoutMs: 5_000, intervalMs: 5 });
      const changeMs = Date.now() - movedAt;
      ctx.measure('endpoint change: rename → request reaches the new endpoint', changeMs);
      ctx.t.true(changeMs <= 1_000, `endpoint change took ${changeMs} ms`);

      const deletedAt = await ctx.manifests.remove('move.yaml');
      // Without the Service the ClusterIP is routed to the LAN's router, which has no route for it: "net
      // unreachable" at once. A timeout here is a slow answer under load, not the deletion.
      const gone = await until('an ICMP error once the Service is deleted', async () => {
        const r = await echoOnce(a1(ctx), vip, { timeoutMs: 1_000 });
        return isFailure(r) && r.error !== 'ETIMEDOUT' ? r : undefined;
      }, { timeoutMs: 5_000, intervalMs: 5 });
      const deleteMs = Date.now() - deletedAt;
      ctx.measure(`service deletion: unlink → request fails (${gone.value.error})`, deleteMs);
      ctx.t.true(deleteMs <= 1_000, `deletion took ${deleteMs} ms`);
      const still = await sampleParallel(a1(ctx), vip, 5, { timeoutMs: 500 });
      ctx.t.is(still.answers.length, 0, `after deletion: ${still.summary}`);
    },
  },
  {
    id: 13,
    title: 'IPv6: pod → IPv6 ClusterIP of a dual-stack Service',
    run: async (ctx) => {
      const [v4, v6] = SVC.dual.clusterIPs;
      const s6 = await sampleParallel(a1(ctx), url(v6), 20);
      assertAnsweredBy(ctx, s6, [POD.a2.name, POD.b1.name], `pod-a1 → [${v6}] ×20`);
      ctx.t.deepEqual([...s6.clientIPs], [POD.a1.ipv6], 'IPv6 client address kept');
      const s4 = await sampleParallel(a1(ctx), url(v4), 10);
      ctx.t.is(s4.failures.length, 0, `the IPv4 ClusterIP of the same Service: ${s4.summary}`);
    },
  },
  {
    id: 14,
    title: 'internalTrafficPolicy Local: only the node\'s own endpoint; none local → dropped',
    run: async (ctx) => {
      const s = await sampleParallel(a1(ctx), url(SVC.itpLocal.clusterIPs[0]), 20);
      assertAnsweredBy(ctx, s, [POD.a2.name], 'pod-a1 → iTP Local ClusterIP ×20');
      await assertDropped(ctx, POD.a1.name, SVC.itpLocalRemote.clusterIPs[0], 80, 'pod-a1 → iTP Local ClusterIP with only a remote endpoint');
    },
  },
  {
    id: 17,
    title: 'broken manifests (invalid YAML, invalid Service) disturb nothing and are logged with their file',
    run: async (ctx) => {
      const daemon = ctx.daemon('node-a');
      const logFrom = daemon.lines.length;
      const loop = new RequestLoop(a1(ctx), url(SVC.web.clusterIPs[0]));
      try {
        await ctx.manifests.write('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n  spec: :\n');
        const badService = serviceFile({ ...SVC.afterBroken, name: 'bad-service', clusterIPs: ['10.96.0.102'], ports: [{ name: 'http', port: 70000, targetPort: 8080 }] }, [ep('a2')]);
        await ctx.manifests.write('bad-service.yaml', badService);
        // A valid change after the broken ones still takes effect: the daemon keeps applying its directory.
        await ctx.manifests.write('after-broken.yaml', serviceFile(SVC.afterBroken, [ep('a2')]));
        await until('the Service written after the broken files answering', async () => {
          const r = await echoOnce(a1(ctx), url(SVC.afterBroken.clusterIPs[0]), { timeoutMs: 300 });
          return isFailure(r) ? undefined : r;
        }, { timeoutMs: 5_000 });
        const yamlLine = await until('a log line naming broken.yaml', async () => daemon.linesWith('broken.yaml', logFrom)[0], { timeoutMs: 3_000 });
        ctx.t.log(`logged: ${yamlLine.value}`);
        const serviceLines = daemon.lines.slice(logFrom).filter((l) => l.includes('bad-service'));
        ctx.t.true(serviceLines.length > 0, 'a log line about the invalid Service');
        ctx.t.log(`logged: ${serviceLines.join('\n')}`);
        ctx.t.true(serviceLines.some((l) => l.includes('bad-service.yaml')), `the invalid Service's log line names its file (bad-service.yaml): ${serviceLines.join(' | ')}`);
        // The files can be taken in faster than the loop's interval on a quiet machine, or slower on a busy one:
        // the traffic verdict needs a few requests across that time either way.
        await until('five requests made', async () => (loop.report().total >= 5 ? true : undefined), { timeoutMs: 5_000 });
      } finally {
        await loop.stop();
      }
      const report = loop.report();
      ctx.t.true(report.total >= 5, `only ${report.total} requests were made`);
      ctx.t.deepEqual(report.failures.map((f) => describeOutcome(f.outcome)), [], `web ClusterIP while broken files arrived (${report.total} requests)`);
      ctx.t.true(daemon.running, 'the daemon still runs');
    },
  },
  handoverScenario,
  {
    id: 16,
    title: 'restart without a gap: SIGTERM exits within 5 s leaving rules, traffic flows throughout',
    run: async (ctx) => {
      const daemon = ctx.daemon('node-a');
      const loop = new RequestLoop(a1(ctx), url(SVC.web.clusterIPs[0]), { intervalMs: 20, timeoutMs: 1_000 });
      try {
        const loopStarted = Date.now();
        await until('traffic flowing before the restart', async () => (loop.successesSince(loopStarted) >= 5 ? true : undefined), { timeoutMs: 5_000 });
        const stopped = await daemon.stop(10_000);
        ctx.measure('SIGTERM → daemon exited', stopped.ms);
        ctx.t.false(stopped.killed, 'needed SIGKILL');
        ctx.t.true(stopped.ms <= 5_000, `exit took ${stopped.ms} ms`);
        ctx.t.log(`exit code ${stopped.code}, signal ${stopped.signal}`);
        const downAt = Date.now();
        ctx.t.true((await ownedRuleLines(ctx)).length > 0, 'rules left in place after SIGTERM');
        await until('traffic flowing for 1 s with the daemon down', async () =>
          (Date.now() - downAt >= 1_000 && loop.successesSince(downAt) >= 10 ? true : undefined), { timeoutMs: 5_000 });

        const restartedAt = Date.now();
        daemon.start();
        await ctx.manifests.write('after-restart.yaml', serviceFile(SVC.afterRestart, [ep('b1')]));
        const served = await until('a Service written after the restart answering', async () => {
          if (!daemon.running) throw new Error(`restarted daemon exited:\n${daemon.tail()}`);
          const r = await echoOnce(a1(ctx), url(SVC.afterRestart.clusterIPs[0]), { timeoutMs: 300 });
          return isFailure(r) ? undefined : r;
        }, { timeoutMs: 15_000, intervalMs: 50 });
        ctx.measure('restart → new Service answering', Date.now() - restartedAt);
        const servedAt = Date.now();
        ctx.t.is(served.value.pod, POD.b1.name);
        await until('traffic flowing after the restart', async () => (loop.successesSince(servedAt) >= 10 ? true : undefined), { timeoutMs: 5_000 });
      } finally {
        await loop.stop();
        if (!daemon.running) daemon.start();
      }
      const report = loop.report();
      ctx.measure(`restart gap: longest pause between answers over ${report.total} requests`, report.maxGapMs);
      ctx.t.deepEqual(report.failures.map((f) => describeOutcome(f.outcome)), [], 'requests failed around the restart');
      ctx.t.true(report.maxGapMs < 500, `longest pause between answers ${report.maxGapMs} ms`);
    },
  },
  {
    id: 15,
    title: '--cleanup after stopping the daemon exits 0 within 15 s and leaves nothing named switchyard',
    run: async (ctx) => {
      const stopped = await ctx.daemon('node-a').stop(10_000);
      ctx.t.false(stopped.killed, 'daemon needed SIGKILL');
      ctx.t.true((await ownedRuleLines(ctx)).length > 0, 'rules present before --cleanup');
      const started = Date.now();
      const cleanup = await ctx.sandbox.exec('node-a', [process.execPath, DAEMON_SCRIPT, '--cleanup'], { timeoutMs: 20_000 });
      const ms = Date.now() - started;
      ctx.measure('--cleanup', ms);
      ctx.t.is(cleanup.code, 0, `--cleanup exit ${cleanup.code}: ${cleanup.stderr.trim()} ${cleanup.stdout.trim()}`);
      ctx.t.true(ms <= 15_000, `--cleanup took ${ms} ms`);
      const left = await ownedRuleLines(ctx);
      ctx.t.deepEqual(left, [], 'rules named switchyard left after --cleanup');
      const after = await echoOnce(a1(ctx), url(SVC.web.clusterIPs[0]), { timeoutMs: 500 });
      ctx.t.true(isFailure(after), `ClusterIP still answers after --cleanup: ${describeOutcome(after)}`);
    },
  },
];
