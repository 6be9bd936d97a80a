/**
 * nftables dataplane at scale, on the real kernel, in throwaway network namespaces (root only):
 *
 *   node perf/nftables-scale.ts [--sizes 1000,10000,30000] [--endpoints 10] [--changes 50] [--connects 200]
 *                               [--runs 1] [--semi-space MB]
 *
 * For each size N (services × endpoints), a fresh child process (so RSS is per size) creates a node netns and an
 * endpoint netns joined by a veth pair, runs the real NftablesDataplane with the real ExecNftRunner inside the node
 * netns, and measures: the cold full sync (compute / nft), single-endpoint changes event→kernel (p50/p99), RSS and
 * heap right after the cold sync and again after a forced GC, and first-packet connect latency to a ClusterIP whose
 * endpoints listen in the endpoint netns. With --runs N each size is measured N times (fresh child each time) and
 * the median of every column is printed. --semi-space MB runs the children with V8's --max-semi-space-size (see
 * perf/README.md: the young generation is most of the RSS). Prints a table; every namespace is deleted before the
 * child exits. Not a test.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NftablesDataplane } from '../lib/dataplane/nftables/dataplane.ts';
import { ExecNftRunner } from '../lib/dataplane/nftables/nft.ts';
import {
  IP, commands, connectLatencies, createNetns, makeServices, markdownTable, measureChanges, medianOf, percentile, run,
  stateOf,
} from './scale-support.ts';

const SELF = fileURLToPath(import.meta.url);

interface Options {
  sizes: number[];
  endpoints: number;
  changes: number;
  connects: number;
  runs: number;
  /** V8 --max-semi-space-size for the children (MiB); undefined = Node's default. */
  semiSpace: number | undefined;
}

type SizeResult = {
  readonly services: number;
  readonly endpoints: number;
  readonly coldComputeMs: number;
  readonly coldNftMs: number;
  readonly coldMB: number;
  /** Chains in the table after the cold sync (nft 1.0.6 loads them all before any command: see the nftables README). */
  readonly chains: number;
  readonly changeP50: number;
  readonly changeP99: number;
  readonly changeComputeP50: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly rssAfterGcMiB: number;
  readonly heapAfterGcMiB: number;
  readonly connectP50: number;
  readonly connectP99: number;
};

const parseArgs = (argv: readonly string[]): Options & { child: boolean } => {
  const o: Options & { child: boolean } = { sizes: [1000, 10_000, 30_000], endpoints: 10, changes: 50, connects: 200, runs: 1, semiSpace: undefined, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--child') o.child = true;
    else if (a === '--sizes' && v !== undefined) (o.sizes = v.split(',').map(Number)), i++;
    else if (a === '--endpoints' && v !== undefined) (o.endpoints = Number(v)), i++;
    else if (a === '--changes' && v !== undefined) (o.changes = Number(v)), i++;
    else if (a === '--connects' && v !== undefined) (o.connects = Number(v)), i++;
    else if (a === '--runs' && v !== undefined) (o.runs = Number(v)), i++;
    else if (a === '--semi-space' && v !== undefined) (o.semiSpace = Number(v)), i++;
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 60_000)) throw new Error('--sizes: integers 1…60000');
  return o;
};

const measureSize = async (n: number, o: Options): Promise<SizeResult> => {
  const ns = await createNetns(randomBytes(3).toString('hex'));
  try {
    const runner = new ExecNftRunner({ commands, prefix: [IP, 'netns', 'exec', ns.node] });
    const dp = new NftablesDataplane({ runner, families: [4] });
    const services = makeServices(n, o.endpoints);

    const cold = await dp.sync(stateOf(services), { changed: undefined, forceFull: false });
    if (!cold.full) throw new Error('first sync was not full');
    const chains = dp.lastApplied!.families.reduce(
      (n, f) => n + f.base.chains.length + [...f.services.values()].reduce((m, g) => m + g.chains.length, 0),
      0,
    );
    const mem = process.memoryUsage();
    // Started with --expose-gc: what stays once the garbage of the cold sync is collected.
    (globalThis as { gc?: () => void }).gc?.();
    const afterGc = process.memoryUsage();

    // Single-endpoint changes: replace one endpoint, remove one, add it back (count and rule change too).
    const { changeMs, computeMs } = await measureChanges(dp, services, o.changes);

    // First-packet connect latency to the probe service's ClusterIP.
    const connects = await connectLatencies(ns, o.connects);

    await dp.cleanup();
    return {
      services: n,
      endpoints: n * o.endpoints,
      coldComputeMs: cold.computeMs,
      coldNftMs: cold.applyMs,
      coldMB: cold.bytes / 1e6,
      chains,
      changeP50: percentile(changeMs, 50),
      changeP99: percentile(changeMs, 99),
      changeComputeP50: percentile(computeMs, 50),
      rssMiB: mem.rss / 2 ** 20,
      heapMiB: mem.heapUsed / 2 ** 20,
      rssAfterGcMiB: afterGc.rss / 2 ** 20,
      heapAfterGcMiB: afterGc.heapUsed / 2 ** 20,
      connectP50: percentile(connects, 50),
      connectP99: percentile(connects, 99),
    };
  } finally {
    await ns.remove();
  }
};

const table = (rows: readonly SizeResult[]): string => {
  const head = ['services', 'endpoints', 'cold compute ms', 'cold nft ms', 'cold total s', 'script MB', 'chains', 'change p50 ms', 'change p99 ms', 'change compute p50 ms', 'RSS MiB', 'heap MiB', 'RSS after GC MiB', 'heap after GC MiB', 'connect p50 ms', 'connect p99 ms'];
  const body = rows.map((r) => [
    String(r.services),
    String(r.endpoints),
    r.coldComputeMs.toFixed(0),
    r.coldNftMs.toFixed(0),
    ((r.coldComputeMs + r.coldNftMs) / 1000).toFixed(2),
    r.coldMB.toFixed(1),
    String(r.chains),
    r.changeP50.toFixed(1),
    r.changeP99.toFixed(1),
    r.changeComputeP50.toFixed(1),
    r.rssMiB.toFixed(0),
    r.heapMiB.toFixed(0),
    r.rssAfterGcMiB.toFixed(0),
    r.heapAfterGcMiB.toFixed(0),
    r.connectP50.toFixed(3),
    r.connectP99.toFixed(3),
  ]);
  return markdownTable(head, body);
};

const main = async (): Promise<void> => {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, nft)');
  if (o.child) {
    process.stdout.write(JSON.stringify(await measureSize(o.sizes[0]!, o)));
    return;
  }
  const rows: SizeResult[] = [];
  const t0 = performance.now();
  const v8Flags = ['--expose-gc', ...(o.semiSpace === undefined ? [] : [`--max-semi-space-size=${o.semiSpace}`])];
  for (const n of o.sizes) {
    const args = ['--child', '--sizes', String(n), '--endpoints', String(o.endpoints), '--changes', String(o.changes), '--connects', String(o.connects)];
    const runs: SizeResult[] = [];
    for (let r = 0; r < o.runs; r++) {
      const out = await run([process.execPath, ...v8Flags, SELF, ...args]);
      runs.push(JSON.parse(out) as SizeResult);
      process.stderr.write(`${n} services, run ${r + 1}/${o.runs} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
    rows.push(medianOf(runs));
  }
  process.stdout.write(`${table(rows)}\n`);
};

main().catch((e: unknown) => {
  process.stderr.write(`nftables-scale: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
