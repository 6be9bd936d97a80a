/**
 * iptables dataplane at scale, on the real kernel, in throwaway network namespaces (root only):
 *
 *   node perf/iptables-scale.ts [--sizes 1000,10000,30000] [--endpoints 10] [--changes 30] [--connects 200]
 *                               [--backend nft|legacy] [--runs 1] [--budget-s 540]
 *
 * For each size N (services × endpoints) and run, a fresh child process (so RSS is per size) creates a node netns and
 * an endpoint netns joined by a veth pair (perf/scale-support.ts), runs the real IptablesDataplane + ExecIptables
 * inside the node netns, and measures: the cold full sync (compute / restores), ~30 single-endpoint changes
 * event→kernel (p50/p99 of the whole sync), RSS/heap after the cold sync, first-packet connect latency to a ClusterIP
 * whose endpoints listen in the endpoint netns, and a forced full resync over the existing rules. Every namespace is
 * deleted before the child exits. The whole run stays within --budget-s: a size whose predicted time (the previous
 * size's, scaled by N^1.5) would not fit is skipped with the reason printed. With --runs each column is the median.
 * Not a test.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ExecIptables, type IptablesBackend } from '../lib/dataplane/iptables/exec.ts';
import { IptablesDataplane } from '../lib/dataplane/iptables/dataplane.ts';
import { commands, connectLatencies, createNetns, makeServices, markdownTable, measureChanges, medianOf, percentile, run, stateOf } from './scale-support.ts';

const SELF = fileURLToPath(import.meta.url);

interface Options {
  sizes: number[];
  endpoints: number;
  changes: number;
  connects: number;
  backend: IptablesBackend;
  runs: number;
  budgetS: number;
  child: boolean;
}

type SizeResult = {
  services: number;
  endpoints: number;
  coldComputeMs: number;
  coldApplyMs: number;
  coldMB: number;
  changeP50: number;
  changeP99: number;
  changeComputeP50: number;
  resyncS: number;
  rssMiB: number;
  heapMiB: number;
  connectP50: number;
  connectP99: number;
  wallS: number;
};

const parseArgs = (argv: readonly string[]): Options => {
  const o: Options = { sizes: [1000, 10_000, 30_000], endpoints: 10, changes: 30, connects: 200, backend: 'nft', runs: 1, budgetS: 540, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--child') o.child = true;
    else if (v === undefined) throw new Error(`missing value for ${a}`);
    else if (a === '--sizes') (o.sizes = v.split(',').map(Number)), i++;
    else if (a === '--endpoints') (o.endpoints = Number(v)), i++;
    else if (a === '--changes') (o.changes = Number(v)), i++;
    else if (a === '--connects') (o.connects = Number(v)), i++;
    else if (a === '--runs') (o.runs = Number(v)), i++;
    else if (a === '--budget-s') (o.budgetS = Number(v)), i++;
    else if (a === '--backend' && (v === 'nft' || v === 'legacy')) (o.backend = v), i++;
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 60_000)) throw new Error('--sizes: integers 2…60000');
  return o;
};

const measureSize = async (n: number, o: Options): Promise<SizeResult> => {
  const t0 = performance.now();
  const ns = await createNetns(randomBytes(3).toString('hex'));
  try {
    const executor = new ExecIptables({ commands, backend: o.backend, prefix: ns.inNode, timeoutMs: 600_000 });
    const dp = new IptablesDataplane({ executor, families: [4] });
    const initial = makeServices(n, o.endpoints);
    const cold = await dp.sync(stateOf(initial), { changed: undefined, forceFull: false });
    if (!cold.full) throw new Error('first sync was not full');
    const mem = process.memoryUsage();

    const { services, changeMs, computeMs } = await measureChanges(dp, initial, o.changes);

    const connects = await connectLatencies(ns, o.connects);
    const resync = await dp.sync(stateOf(services), { changed: undefined, forceFull: true });
    await dp.cleanup();
    return {
      services: n,
      endpoints: n * o.endpoints,
      coldComputeMs: cold.computeMs,
      coldApplyMs: cold.applyMs,
      coldMB: cold.bytes / 1e6,
      changeP50: percentile(changeMs, 50),
      changeP99: percentile(changeMs, 99),
      changeComputeP50: percentile(computeMs, 50),
      resyncS: resync.durationMs / 1000,
      rssMiB: mem.rss / 2 ** 20,
      heapMiB: mem.heapUsed / 2 ** 20,
      connectP50: percentile(connects, 50),
      connectP99: percentile(connects, 99),
      wallS: (performance.now() - t0) / 1000,
    };
  } finally {
    await ns.remove();
  }
};

const table = (backend: IptablesBackend, rows: readonly SizeResult[]): string =>
  markdownTable(
    ['backend', 'services', 'endpoints', 'cold compute ms', 'cold restore ms', 'cold total s', 'input MB', 'change p50 ms', 'change p99 ms', 'change compute p50 ms', 'forced resync s', 'RSS MiB', 'heap MiB', 'connect p50 ms', 'connect p99 ms'],
    rows.map((r) => [
      backend,
      String(r.services),
      String(r.endpoints),
      r.coldComputeMs.toFixed(0),
      r.coldApplyMs.toFixed(0),
      ((r.coldComputeMs + r.coldApplyMs) / 1000).toFixed(2),
      r.coldMB.toFixed(1),
      r.changeP50.toFixed(1),
      r.changeP99.toFixed(1),
      r.changeComputeP50.toFixed(1),
      r.resyncS.toFixed(2),
      r.rssMiB.toFixed(0),
      r.heapMiB.toFixed(0),
      r.connectP50.toFixed(3),
      r.connectP99.toFixed(3),
    ]),
  );

const main = async (): Promise<void> => {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, iptables)');
  if (o.child) {
    process.stdout.write(JSON.stringify(await measureSize(o.sizes[0]!, o)));
    return;
  }
  const rows: SizeResult[] = [];
  const t0 = performance.now();
  const left = (): number => o.budgetS - (performance.now() - t0) / 1000;
  let last: { n: number; wallS: number } | undefined;
  for (const n of o.sizes) {
    const runs: SizeResult[] = [];
    for (let r = 0; r < o.runs; r++) {
      const predicted = last === undefined ? 0 : last.wallS * (n / last.n) ** 1.5;
      if (predicted > left()) {
        process.stderr.write(`skipping ${n} services (run ${r + 1}): predicted ${predicted.toFixed(0)} s from ${last!.n} services' ${last!.wallS.toFixed(0)} s, ${left().toFixed(0)} s of the budget left\n`);
        break;
      }
      const args = ['--child', '--sizes', String(n), '--endpoints', String(o.endpoints), '--changes', String(o.changes), '--connects', String(o.connects), '--backend', o.backend];
      const res = JSON.parse(await run([process.execPath, SELF, ...args], undefined, Math.round(Math.max(1, left()) * 1000))) as SizeResult;
      runs.push(res);
      last = { n, wallS: res.wallS };
      process.stderr.write(`${o.backend} ${n} services, run ${r + 1}/${o.runs}: ${res.wallS.toFixed(0)} s (${((performance.now() - t0) / 1000).toFixed(0)} s total)\n`);
    }
    if (runs.length > 0) rows.push(medianOf(runs));
  }
  process.stdout.write(`${table(o.backend, rows)}\n`);
};

main().catch((e: unknown) => {
  process.stderr.write(`iptables-scale: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
