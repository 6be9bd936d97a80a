/**
 * A surge rollout on one node, as the DaemonSet in manifests/ runs it (maxSurge 1, maxUnavailable 0): the new
 * daemon starts beside the old one, shares its listeners (SO_REUSEPORT), takes the writing of the kernel rules over
 * at its first sync (lib/handover/), writes its ready file; then the old one gets SIGTERM. Requests through a
 * ClusterIP (kernel rules) and through the Ingress listener (a fresh connection each, and a keep-alive client) run
 * all along: none may fail.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFailure } from '../../lib/sandbox/agent-protocol.ts';
import { INGRESS_PORT, NODE_A_IP, POD, SVC, ep, ingressFile, serviceFile, url } from './support/fixture.ts';
import { DaemonProcess, daemonArgv } from './support/daemon.ts';
import { RequestLoop, describeOutcome, echoOnce, until } from './support/traffic.ts';
import type { E2eContext, Scenario } from './support/world.ts';

const INGRESS_URL = url(NODE_A_IP, INGRESS_PORT);

/** The suite's daemon arguments with the Ingress HTTP listener on. */
const withIngress = (ctx: E2eContext): string[] => {
  const argv = daemonArgv(ctx.mode, ctx.manifests.path, 'node-a');
  argv[argv.indexOf('--ingress-http-address') + 1] = `0.0.0.0:${INGRESS_PORT}`;
  return argv;
};

const answered = (ctx: E2eContext, agent: string, target: string, daemon: DaemonProcess) => async () => {
  if (!daemon.running) throw new Error(`daemon exited:\n${daemon.tail()}`);
  const r = await echoOnce(ctx.sandbox.agent(agent), target, { timeoutMs: 500 });
  return isFailure(r) ? undefined : r;
};

export const handoverScenario: Scenario = {
  id: 18,
  title: 'surge rollout: a second daemon takes the node over beside the first; SIGTERM to the first loses no request (ClusterIP and Ingress)',
  run: async (ctx) => {
    const suiteDaemon = ctx.daemon('node-a');
    await suiteDaemon.stop(10_000);
    await ctx.manifests.write('handover-ingress.yaml', ingressFile());
    const readyFile = join(tmpdir(), `switchyard-e2e-ready-${process.pid}-${ctx.mode}`);
    await rm(readyFile, { force: true });
    const old = new DaemonProcess(ctx.sandbox, 'node-a', withIngress(ctx));
    const next = new DaemonProcess(ctx.sandbox, 'node-a', [...withIngress(ctx), '--ready-file', readyFile]);
    const service = new RequestLoop(ctx.sandbox.agent(POD.a1.name), url(SVC.web.clusterIPs[0]), { intervalMs: 10, timeoutMs: 1_000 });
    const loops: [string, RequestLoop][] = [['ClusterIP', service]];
    const marks: [string, number][] = [];
    let downAt = 0;
    const allAnswered = (since: number, n: number): true | undefined =>
      loops.every(([, loop]) => loop.successesSince(since) >= n) ? true : undefined;
    try {
      old.start();
      await until('Ingress answering through the first daemon', answered(ctx, 'outside', INGRESS_URL, old), { timeoutMs: 15_000, intervalMs: 100 });
      loops.push(
        ['Ingress, a connection per request', new RequestLoop(ctx.sandbox.agent('outside'), INGRESS_URL, { intervalMs: 5, timeoutMs: 1_000 })],
        ['Ingress, keep-alive', new RequestLoop(ctx.sandbox.agent(POD.b1.name), INGRESS_URL, { intervalMs: 5, timeoutMs: 1_000, keepAlive: true })],
      );
      const loopsAt = Date.now();
      await until('every loop answered', async () => allAnswered(loopsAt, 5), { timeoutMs: 5_000 });

      const surgeAt = Date.now();
      marks.push(['second daemon started', surgeAt]);
      next.start();
      await until('the second daemon\'s ready file', async () => {
        if (!next.running) throw new Error(`second daemon exited:\n${next.tail()}`);
        return existsSync(readyFile) ? true : undefined;
      }, { timeoutMs: 15_000, intervalMs: 50 });
      ctx.measure('second daemon start → ready file', Date.now() - surgeAt);
      ctx.t.is(next.linesWith('took over writing this node\'s rules').length, 1, next.tail(10));
      // Beside a running switchyard the second binds its ingress port only with a table to serve: no connection the
      // kernel hands it waits for its initial listing.
      ctx.t.is(next.linesWith('another switchyard serves this node; listening once the first route table is built').length, 1, next.tail(10));
      ctx.t.is(next.linesWith('ingress: first route table built; listening').length, 1, next.tail(10));
      ctx.t.is(next.linesWith('connections wait for the first route table').length, 0, next.tail(10));
      await until('the first daemon standing by', async () => (old.linesWith('standing by').length > 0 ? true : undefined), { timeoutMs: 2_000 });

      // Both run: a change is written by the second alone, and followed.
      const writtenAt = await ctx.manifests.write('after-handover.yaml', serviceFile(SVC.afterHandover, [ep('b1')]));
      const served = await until('a Service written after the handover answering', answered(ctx, POD.a1.name, url(SVC.afterHandover.clusterIPs[0]), next), { timeoutMs: 5_000 });
      ctx.measure('change during the overlap → answered', Date.now() - writtenAt);
      ctx.t.is(served.value.pod, POD.b1.name);
      ctx.t.is(old.linesWith('sync failed').length, 0, old.tail(10));
      ctx.t.is(next.linesWith('sync failed').length, 0, next.tail(10));

      // The old pod is deleted.
      marks.push(['SIGTERM to the first', Date.now()]);
      const stopped = await old.stop(10_000);
      ctx.measure('first daemon SIGTERM → exited', stopped.ms);
      ctx.t.false(stopped.killed, 'the first daemon needed SIGKILL');
      downAt = Date.now();
      // Not a throwing wait: a loop that stalls shows below with its failures, not as a bare timeout. Generous, as
      // a slow answer on a loaded machine is not a lost one; the failures are what is judged.
      await until('1 s of traffic after the first daemon exited', async () => {
        const waited = Date.now() - downAt;
        return waited >= 15_000 || (waited >= 1_000 && allAnswered(downAt, 10)) ? true : undefined;
      }, { timeoutMs: 16_000 });
      ctx.t.true(next.running, `the second daemon exited:\n${next.tail(15)}`);
    } catch (e) {
      ctx.t.log(`--- first daemon (last lines)\n${old.tail(15)}\n--- second daemon (last lines)\n${next.tail(15)}`);
      throw e;
    } finally {
      await Promise.all(loops.map(([, loop]) => loop.stop()));
      await old.stop(5_000);
      await next.stop(5_000);
      await rm(readyFile, { force: true });
      await ctx.manifests.remove('after-handover.yaml');
      await ctx.manifests.remove('handover-ingress.yaml');
      suiteDaemon.start();
    }
    ctx.t.is(loops.length, 3);
    for (const [what, loop] of loops) {
      const report = loop.report();
      ctx.t.true(report.total >= 20, `${what}: only ${report.total} requests`);
      ctx.t.deepEqual(report.failures.map((f) => `${describeOutcome(f.outcome)}, ${f.at - downAt} ms after the first daemon exited`), [],
        `${what}: requests failed during the rollout (of ${report.total})`);
      ctx.t.true(loop.successesSince(downAt) >= 10, `${what}: ${loop.successesSince(downAt)} answers after the first daemon exited`);
      ctx.measure(`${what}: longest pause between answers over ${report.total} requests`, report.maxGapMs);
      // Where it fell, to tell a handover effect from the shared machine's hiccups.
      const start = report.maxGapEndedAt - report.maxGapMs;
      const relative = ([mark, at]: [string, number]): string => `${Math.abs(start - at)} ms ${start < at ? 'before' : 'after'} ${mark}`;
      ctx.t.log(`${what}: longest pause began ${marks.map(relative).join(', ')}`);
    }
    // The suite's daemon is back and writing: the Service removed above stops answering.
    await until('the suite daemon writing again', async () => {
      if (!suiteDaemon.running) throw new Error(`suite daemon exited:\n${suiteDaemon.tail()}`);
      return isFailure(await echoOnce(ctx.sandbox.agent(POD.a1.name), url(SVC.afterHandover.clusterIPs[0]), { timeoutMs: 300 })) ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
  },
};
