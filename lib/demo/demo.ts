/**
 * `switchyard demo`: builds the examples/ cluster in network namespaces, runs the daemon on its nodes and shows,
 * every couple of seconds, which pod answered each request to a ClusterIP, a NodePort, the LoadBalancer IP and
 * the Ingress. Runs until the signal aborts, then removes everything it made.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describeError } from '../errors.ts';
import { loadManifestsOnce, formatProblem } from '../source/manifests.ts';
import type { KubeObject } from '../source/types.ts';
import { Sandbox } from '../sandbox/sandbox.ts';
import { isNetnsSupported } from '../sandbox/support.ts';
import { sandboxSpecFromManifests } from '../sandbox/from-manifests.ts';
import { isFailure } from '../sandbox/agent-protocol.ts';
import { demoProbes, ingressPortFromArgv, type Probe } from './probes.ts';

export interface DemoOptions {
  readonly examplesDir: string;
  /** The daemon's command line for one node, e.g. [node, 'dist/cmd/switchyard.js', '--manifests', dir, ...]. */
  readonly daemonArgv: (nodeName: string, manifestsDir: string) => string[];
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
  /** Requests per probe per round (default 6). */
  readonly requests?: number;
  /** Pause between rounds (default 2000 ms). */
  readonly intervalMs?: number;
  /** Nodes that run the daemon (default: every node of the sandbox). */
  readonly daemonNodes?: readonly string[];
  /** How long to wait for the first ClusterIP answer (default 30 s). */
  readonly readyTimeoutMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) { resolve(); return; }
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });

/** Keeps the last lines a daemon printed, to show them if it dies. */
const tail = (child: ChildProcess, keep = 30): (() => string[]) => {
  const lines: string[] = [];
  const push = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - keep));
  };
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
  return () => [...lines];
};

/** One round of a probe: "web-a1 ×3  web-b1 ×3", or the error codes seen. */
const runProbe = async (sandbox: Sandbox, probe: Probe, requests: number): Promise<{ text: string; answered: number }> => {
  const agent = sandbox.agent(probe.from);
  const results = await Promise.all(Array.from({ length: requests }, () =>
    agent.echo(probe.url, { timeoutMs: 1500, ...(probe.headers ? { headers: { ...probe.headers } } : {}) })));
  const counts = new Map<string, number>();
  let answered = 0;
  for (const r of results) {
    const key = isFailure(r) ? `✗ ${r.error}` : r.pod;
    if (!isFailure(r)) answered++;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const text = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ×${n}`).join('  ');
  return { text, answered };
};

/** Resolves to the process exit code: 0 after a clean stop, non-zero when the demo cannot run. */
export const runDemo = async (options: DemoOptions): Promise<number> => {
  const { log, signal } = options;
  const reason = await isNetnsSupported();
  if (reason) {
    log(`switchyard demo builds a cluster out of network namespaces and cannot run here: ${reason}`);
    return 1;
  }
  let objects: KubeObject[];
  try {
    const snapshot = await loadManifestsOnce(options.examplesDir);
    for (const p of snapshot.problems) log(`manifest problem: ${formatProblem(p)}`);
    for (const w of snapshot.warnings) log(`manifest warning: ${w}`);
    objects = snapshot.events.flatMap((e) => (e.type === 'upsert' ? [e.object] : []));
  } catch (e) {
    log(`cannot read ${options.examplesDir}: ${describeError(e)}`);
    return 1;
  }
  const { spec, skipped } = sandboxSpecFromManifests(objects);
  for (const s of skipped) log(`not in the sandbox: ${s}`);
  if (spec.pods.length === 0) {
    log(`no EndpointSlice in ${options.examplesDir} has endpoints on ${spec.nodes.map((n) => n.name).join(' or ')}; nothing to show`);
    return 1;
  }

  let sandbox: Sandbox | undefined;
  let manifestsDir: string | undefined;
  try {
    manifestsDir = await mkdtemp(join(tmpdir(), 'switchyard-demo-'));
    await cp(options.examplesDir, manifestsDir, { recursive: true });
    log(`building ${spec.nodes.length} nodes, ${spec.pods.length} pods and an outside host in network namespaces…`);
    sandbox = await Sandbox.create(spec, { log });
    for (const w of sandbox.warnings) log(`warning: ${w}`);
    log(`sandbox ${sandbox.prefix} ready (${sandbox.podNetwork} pod network): ${spec.pods.map((p) => `${p.name}@${p.node} ${[p.ipv4, p.ipv6].filter(Boolean).join(' ')}`).join(', ')}`);

    const daemonNodes = options.daemonNodes ?? spec.nodes.map((n) => n.name);
    let ingressPort = 80;
    const daemons = daemonNodes.map((node) => {
      const argv = options.daemonArgv(node, manifestsDir as string);
      ingressPort = node === spec.nodes[0]?.name ? ingressPortFromArgv(argv) : ingressPort;
      const child = (sandbox as Sandbox).spawn(node, argv, { cwd: process.cwd() });
      log(`started switchyard in ${node} (pid ${child.pid}): ${argv.join(' ')}`);
      return { node, child, output: tail(child) };
    });
    const deadDaemon = () => daemons.find((d) => d.child.exitCode !== null || d.child.signalCode !== null);

    const probes = demoProbes(objects, spec, ingressPort);
    const first = probes[0];
    if (!first) { log('the manifests have no Service with a TCP port to show'); return 1; }
    log(`waiting for ${first.label} (${first.url}) to answer from ${first.from}…`);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (signal.aborted) return 0;
      const dead = deadDaemon();
      if (dead) {
        log(`switchyard in ${dead.node} exited (${dead.child.signalCode ?? `code ${dead.child.exitCode}`}); its last output:`);
        for (const line of dead.output()) log(`  ${line}`);
        return 1;
      }
      const r = await sandbox.agent(first.from).echo(first.url, { timeoutMs: 1000 });
      if (!isFailure(r)) break;
      if (Date.now() > deadline) {
        log(`${first.label} did not answer within ${options.readyTimeoutMs ?? 30_000} ms (last: ${r.error}); daemon output:`);
        for (const d of daemons) for (const line of d.output()) log(`  [${d.node}] ${line}`);
        return 1;
      }
      await sleep(500, signal);
    }

    const requests = options.requests ?? 6;
    for (let round = 1; !signal.aborted; round++) {
      const dead = deadDaemon();
      if (dead) {
        log(`switchyard in ${dead.node} exited; its last output:`);
        for (const line of dead.output()) log(`  ${line}`);
        return 1;
      }
      const results = await Promise.all(probes.map((p) => runProbe(sandbox as Sandbox, p, requests)));
      log(`— round ${round} (${requests} requests each; Ctrl-C to stop)`);
      probes.forEach((p, i) => log(`  ${p.label.padEnd(34)} ${`${p.url}${p.headers?.host ? ` Host: ${p.headers.host}` : ''}`.padEnd(44)} from ${p.from.padEnd(10)} → ${results[i]?.text}`));
      await sleep(options.intervalMs ?? 2000, signal);
    }
    return 0;
  } catch (e) {
    log(`demo failed: ${describeError(e)}`);
    return 1;
  } finally {
    if (sandbox) {
      log('removing the sandbox…');
      await sandbox.destroy().catch((e: unknown) => log(`cleanup: ${describeError(e)}`));
    }
    if (manifestsDir) await rm(manifestsDir, { recursive: true, force: true });
  }
};
