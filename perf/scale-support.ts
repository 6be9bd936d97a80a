/**
 * Shared pieces of the dataplane scale checks (perf/*-scale.ts): running commands, percentiles and medians, the
 * synthetic services (svc-0 is a probe whose endpoints really listen; the rest point at nothing), the node + endpoint
 * network namespaces joined by a veth pair, and first-packet ClusterIP connect latency through perf/netns-probe.ts.
 * Root only. Not a test.
 */
import { fileURLToPath } from 'node:url';
import { ProcessRunner } from '../lib/exec/command.ts';
import type { Dataplane } from '../lib/dataplane/types.ts';
import type { DesiredState, PlannedEndpoint, ServicePlan } from '../lib/plan/types.ts';

export const IP = '/usr/sbin/ip';
const PROBE = fileURLToPath(new URL('./netns-probe.ts', import.meta.url));
export const commands = new ProcessRunner();

export const PROBE_IP = '10.100.0.1';
export const PROBE_ID = '4/scale/svc-0:';
const NODE_ADDR = '10.250.0.1';
const ENDPOINT_ADDR = '10.250.0.2';
const PROBE_PORTS = [8080, 8081];

export const run = async (argv: readonly string[], input?: string, timeoutMs = 600_000): Promise<string> => {
  const r = await commands.run(argv, { input, timeoutMs });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** Field-wise median of several runs' results (numbers only). */
export const medianOf = <T extends Record<string, number>>(runs: readonly T[]): T => {
  const out: Record<string, number> = {};
  for (const k of Object.keys(runs[0]!)) out[k] = percentile(runs.map((r) => r[k]!), 50);
  return out as T;
};

const plan = (i: number, endpoints: readonly PlannedEndpoint[], clusterIP: string): ServicePlan => ({
  id: `4/scale/svc-${i}:`,
  servicePort: `scale/svc-${i}:`,
  namespace: 'scale',
  name: `svc-${i}`,
  portName: '',
  family: 4,
  protocol: 'TCP',
  clusterIP,
  port: 80,
  nodePort: i < 2000 ? 30000 + i : 0,
  externalIPs: [],
  loadBalancerIPs: [],
  loadBalancerSourceRanges: [],
  affinityTimeoutSeconds: undefined,
  internalPolicyLocal: false,
  externalPolicyLocal: false,
  clusterEndpoints: endpoints,
  localEndpoints: [],
  internalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
  externalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
  healthCheckNodePort: 0,
});

const fakeEndpoint = (i: number, j: number): PlannedEndpoint => ({ ip: `10.${128 + ((i >> 8) % 64)}.${i & 255}.${j + 1}`, port: 8080, isLocal: false });

/** N services sorted by id: svc-0 is the probe (its endpoints listen in the endpoint netns), the rest point at nothing. */
export const makeServices = (n: number, perService: number): ServicePlan[] => {
  const out: ServicePlan[] = [plan(0, PROBE_PORTS.map((port) => ({ ip: ENDPOINT_ADDR, port, isLocal: false })), PROBE_IP)];
  for (let i = 1; i < n; i++) {
    const eps = Array.from({ length: perService }, (_, j) => fakeEndpoint(i, j));
    out.push(plan(i, eps, `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`));
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
};

/** The k-th single-endpoint change of a run: a third each replace one endpoint, remove one, add one. */
export const changeEndpoints = (p: ServicePlan, k: number): PlannedEndpoint[] => {
  const eps = [...p.clusterEndpoints];
  if (k % 3 === 0) eps[k % eps.length] = { ...eps[k % eps.length]!, ip: `10.200.${k & 255}.${(k >> 8) + 1}` };
  else if (k % 3 === 1) eps.pop();
  else eps.push({ ip: `10.201.${k & 255}.${(k >> 8) + 1}`, port: 8080, isLocal: false });
  return eps;
};

/**
 * `count` single-endpoint changes (see changeEndpoints), each synced alone with its service port as the hint;
 * each must come out as one partial change. The probe service is never changed. Returns the services after the
 * last change, and the time of each whole sync and of its compute part.
 */
export const measureChanges = async (
  dp: Pick<Dataplane, 'sync'>,
  initial: readonly ServicePlan[],
  count: number,
): Promise<{ services: ServicePlan[]; changeMs: number[]; computeMs: number[] }> => {
  let services = [...initial];
  const changeMs: number[] = [];
  const computeMs: number[] = [];
  for (let k = 0; k < count; k++) {
    const idx = 1 + ((k * 7919) % (services.length - 1));
    const p = services[idx]!;
    if (p.id === PROBE_ID) continue;
    const eps = changeEndpoints(p, k);
    const t0 = performance.now();
    services = services.map((q, i) => (i === idx ? { ...q, clusterEndpoints: eps } : q));
    const r = await dp.sync(stateOf(services), { changed: new Set([p.servicePort]), forceFull: false });
    changeMs.push(performance.now() - t0);
    computeMs.push(r.computeMs);
    if (r.full || r.changedServices !== 1) throw new Error(`change ${k}: expected one partial change, got ${JSON.stringify(r)}`);
  }
  return { services, changeMs, computeMs };
};

export const stateOf = (services: readonly ServicePlan[]): DesiredState => ({
  nodeName: 'perf-node',
  masqueradeAll: false,
  families: {
    4: { clusterCIDRs: ['10.244.0.0/16'], nodePortAddresses: [NODE_ADDR], nodePortOnAllLocal: false },
    6: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: false },
  },
  services,
});

export interface ScaleNetns {
  readonly node: string;
  readonly ep: string;
  /** `ip netns exec <node>`: prefix for commands run on the node. */
  readonly inNode: readonly string[];
  remove(): Promise<void>;
}

/** Node netns + endpoint netns joined by a veth pair; ClusterIPs routed towards the endpoint side. */
export const createNetns = async (tag: string): Promise<ScaleNetns> => {
  const node = `sy-perf-${tag}-n`;
  const ep = `sy-perf-${tag}-e`;
  const created: string[] = [];
  const remove = async (): Promise<void> => {
    for (const ns of created.reverse()) await commands.run([IP, 'netns', 'del', ns]);
  };
  try {
    for (const ns of [node, ep]) {
      await run([IP, 'netns', 'add', ns]);
      created.push(ns);
    }
    const inNode = [IP, 'netns', 'exec', node, IP];
    const inEp = [IP, 'netns', 'exec', ep, IP];
    await run([...inNode, 'link', 'add', 'veth-n', 'type', 'veth', 'peer', 'name', 'veth-e', 'netns', ep]);
    await run([...inNode, 'addr', 'add', `${NODE_ADDR}/24`, 'dev', 'veth-n']);
    await run([...inEp, 'addr', 'add', `${ENDPOINT_ADDR}/24`, 'dev', 'veth-e']);
    for (const cmd of [inNode, inEp]) await run([...cmd, 'link', 'set', 'lo', 'up']);
    await run([...inNode, 'link', 'set', 'veth-n', 'up']);
    await run([...inEp, 'link', 'set', 'veth-e', 'up']);
    await run([...inNode, 'route', 'add', '10.96.0.0/12', 'dev', 'veth-n']);
    return { node, ep, inNode: [IP, 'netns', 'exec', node], remove };
  } catch (e) {
    await remove();
    throw e;
  }
};

/** `count` fresh TCP connections from the node netns to the probe ClusterIP; connect() times in ms. */
export const connectLatencies = async (ns: ScaleNetns, count: number): Promise<number[]> => {
  const listener = commands.run([IP, 'netns', 'exec', ns.ep, process.execPath, PROBE, 'listen', PROBE_PORTS.join(','), String(count + 1), '60000'], { timeoutMs: 70_000 });
  const client = await run([IP, 'netns', 'exec', ns.node, process.execPath, PROBE, 'connect', PROBE_IP, '80', String(count), '5000']);
  const accepted = await listener;
  if (Number(accepted.stdout) < count) throw new Error(`listener saw ${accepted.stdout} connections, expected ${count}`);
  return JSON.parse(client) as number[];
};

export const markdownTable = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
