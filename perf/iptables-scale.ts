/**
 * iptables dataplane (iptables-nft backend) at scale, on the real kernel, in a throwaway network namespace (root):
 *
 *   node perf/iptables-scale.ts [--sizes 1000,10000,30000] [--endpoints 10] [--changes 20] [--backend nft|legacy]
 *
 * For each size N a fresh netns gets the real IptablesDataplane + ExecIptables; measured: the cold full sync
 * (compute / iptables-restore), single-endpoint partial syncs (p50/p99 of the whole sync and its compute, restore
 * input size), and a forced full resync over the existing rules. The netns is deleted before the next size.
 * Not a test. (The service/netns helpers of perf/nftables-scale.ts are not exported — that file runs main() on
 * import — so the few lines needed are here; see the report for moving them to a shared perf/scale-support.ts.)
 */
import { randomBytes } from 'node:crypto';
import { ProcessRunner } from '../lib/exec/command.ts';
import { ExecIptables, type IptablesBackend } from '../lib/dataplane/iptables/exec.ts';
import { IptablesDataplane } from '../lib/dataplane/iptables/dataplane.ts';
import type { DesiredState, ServicePlan } from '../lib/plan/types.ts';

const IP = '/usr/sbin/ip';
const commands = new ProcessRunner();

const args = (argv: readonly string[]) => {
  const o = { sizes: [1000, 10_000, 30_000], endpoints: 10, changes: 20, backend: 'nft' as IptablesBackend };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    if (k === '--sizes') o.sizes = v.split(',').map(Number);
    else if (k === '--endpoints') o.endpoints = Number(v);
    else if (k === '--changes') o.changes = Number(v);
    else if (k === '--backend' && (v === 'nft' || v === 'legacy')) o.backend = v;
    else throw new Error(`unknown argument ${k}`);
  }
  return o;
};

const svc = (i: number, endpoints: number): ServicePlan => {
  const eps = Array.from({ length: endpoints }, (_, j) => ({ ip: `10.${128 + ((i >> 8) % 64)}.${i & 255}.${j + 1}`, port: 8080, isLocal: false }));
  return {
    id: `4/scale/svc-${i}:`, servicePort: `scale/svc-${i}:`, namespace: 'scale', name: `svc-${i}`, portName: '', family: 4, protocol: 'TCP',
    clusterIP: `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, nodePort: i < 2000 ? 30000 + i : 0,
    externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [], affinityTimeoutSeconds: undefined,
    internalPolicyLocal: false, externalPolicyLocal: false, clusterEndpoints: eps, localEndpoints: [],
    internalVerdict: 'endpoints', externalVerdict: 'endpoints', healthCheckNodePort: 0,
  };
};

const stateOf = (services: readonly ServicePlan[]): DesiredState => ({
  nodeName: 'perf-node',
  masqueradeAll: false,
  families: {
    4: { clusterCIDRs: ['10.244.0.0/16'], nodePortAddresses: ['10.250.0.1'], nodePortOnAllLocal: false },
    6: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: false },
  },
  services,
});

const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

const measure = async (n: number, o: ReturnType<typeof args>) => {
  const ns = `sy-perf-ipt-${randomBytes(3).toString('hex')}`;
  const add = await commands.run([IP, 'netns', 'add', ns]);
  if (add.code !== 0) throw new Error(`ip netns add: ${add.stderr}`);
  try {
    const dp = new IptablesDataplane({ executor: new ExecIptables({ commands, backend: o.backend, prefix: [IP, 'netns', 'exec', ns] }), families: [4] });
    let services = Array.from({ length: n }, (_, i) => svc(i, o.endpoints)).sort((a, b) => (a.id < b.id ? -1 : 1));
    const cold = await dp.sync(stateOf(services), { changed: undefined, forceFull: false });
    const total: number[] = [];
    const compute: number[] = [];
    const bytes: number[] = [];
    for (let k = 0; k < o.changes; k++) {
      const idx = (k * 7919) % services.length;
      const p = services[idx]!;
      const eps = [...p.clusterEndpoints];
      if (k % 2 === 0) eps.pop();
      else eps.push({ ip: `10.200.${k & 255}.1`, port: 8080, isLocal: false });
      services = services.map((q, i) => (i === idx ? { ...q, clusterEndpoints: eps } : q));
      const t0 = performance.now();
      const r = await dp.sync(stateOf(services), { changed: new Set([p.servicePort]), forceFull: false });
      total.push(performance.now() - t0);
      compute.push(r.computeMs);
      bytes.push(r.bytes);
      if (r.full || r.changedServices !== 1) throw new Error(`change ${k}: expected one partial change, got ${JSON.stringify(r)}`);
    }
    const resync = await dp.sync(stateOf(services), { changed: undefined, forceFull: true });
    await dp.cleanup();
    return { n, cold, total, compute, bytes, resync, rss: process.memoryUsage().rss / 2 ** 20 };
  } finally {
    await commands.run([IP, 'netns', 'del', ns]);
  }
};

const main = async () => {
  const o = args(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, iptables)');
  const head = ['services', 'endpoints', 'cold compute ms', 'cold restore ms', 'cold MB', 'change p50 ms', 'change p99 ms', 'change compute p50 ms', 'change input KB p50', 'forced resync s', 'RSS MiB'];
  const rows = [head, head.map(() => '---')];
  for (const n of o.sizes) {
    const m = await measure(n, o);
    rows.push([
      String(n), String(n * o.endpoints), m.cold.computeMs.toFixed(0), m.cold.applyMs.toFixed(0), (m.cold.bytes / 1e6).toFixed(1),
      pct(m.total, 50).toFixed(1), pct(m.total, 99).toFixed(1), pct(m.compute, 50).toFixed(1), (pct(m.bytes, 50) / 1e3).toFixed(1),
      (m.resync.durationMs / 1000).toFixed(2), m.rss.toFixed(0),
    ]);
    process.stderr.write(`${n} services done\n`);
  }
  process.stdout.write(`${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
};

main().catch((e: unknown) => {
  process.stderr.write(`iptables-scale: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
