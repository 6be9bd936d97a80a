/**
 * What the demo shows: from the manifests, pick one ClusterIP (asked from a pod), one NodePort and the
 * LoadBalancer/external IPs (asked from the outside host), and the first Ingress rule (through node-a's listener).
 * Pure: plain objects in, probe descriptions out.
 */
import type { KubeObject } from '../source/types.ts';
import type { SandboxSpec } from '../sandbox/spec.ts';
import { bareAddress } from '../sandbox/spec.ts';

export interface Probe {
  /** Shown to the person, e.g. "ClusterIP". */
  readonly label: string;
  /** Logical namespace whose agent sends the requests. */
  readonly from: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const hostPort = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

interface ServiceView { name: string; clusterIP?: string; ports: { name: string; port: number; nodePort?: number; protocol: string }[]; lbIPs: string[]; externalIPs: string[] }

const services = (objects: readonly KubeObject[]): ServiceView[] =>
  objects.filter((o) => o.kind === 'Service').map((o) => {
    const spec = obj(o.spec);
    const clusterIP = str(spec.clusterIP);
    return {
      name: `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`,
      ...(clusterIP && clusterIP !== 'None' ? { clusterIP } : {}),
      ports: arr(spec.ports).map(obj).filter((p) => typeof p.port === 'number').map((p) => ({
        name: str(p.name) ?? '',
        port: p.port as number,
        ...(typeof p.nodePort === 'number' && p.nodePort > 0 ? { nodePort: p.nodePort } : {}),
        protocol: str(p.protocol) ?? 'TCP',
      })),
      lbIPs: arr(obj(obj(o.status).loadBalancer).ingress).map((i) => str(obj(i).ip)).filter((ip): ip is string => !!ip),
      externalIPs: arr(spec.externalIPs).map(str).filter((ip): ip is string => !!ip),
    };
  });

/** The port of `--ingress-http-address HOST:PORT` in the daemon's argv (80 when absent). */
export const ingressPortFromArgv = (argv: readonly string[]): number => {
  const i = argv.findIndex((a) => a === '--ingress-http-address' || a.startsWith('--ingress-http-address='));
  if (i < 0) return 80;
  const value = argv[i]?.includes('=') ? argv[i]?.split('=')[1] : argv[i + 1];
  const port = Number(value?.slice(value.lastIndexOf(':') + 1));
  return Number.isInteger(port) && port > 0 ? port : 80;
};

export const demoProbes = (objects: readonly KubeObject[], spec: SandboxSpec, ingressPort: number): Probe[] => {
  const probes: Probe[] = [];
  const entry = spec.nodes[0];
  const client = spec.pods.find((p) => p.node === entry?.name) ?? spec.pods[0];
  const outside = spec.outside?.name;
  // Services that look like web workloads first (port 80 named http*, then any 80/8080), in manifest order.
  const httpish = (s: ServiceView) =>
    s.ports.some((p) => p.protocol === 'TCP' && p.port === 80 && p.name.startsWith('http')) ? 0
      : s.ports.some((p) => p.protocol === 'TCP' && (p.port === 80 || p.port === 8080)) ? 1 : 2;
  // Only Services with a backend in the sandbox can answer.
  const podIPs = new Set(spec.pods.flatMap((p) => [p.ipv4, p.ipv6]).filter(Boolean));
  const served = new Set(objects.filter((o) => o.kind === 'EndpointSlice').flatMap((o) => {
    const service = o.metadata.labels?.['kubernetes.io/service-name'];
    const hasPod = arr((o as Json).endpoints).some((e) => arr(obj(e).addresses).some((a) => podIPs.has(str(a))));
    return service && hasPod ? [`${o.metadata.namespace ?? 'default'}/${service}`] : [];
  }));
  const svcs = services(objects).filter((s) => served.has(s.name)).map((s, i) => ({ s, i })).sort((a, b) => httpish(a.s) - httpish(b.s) || a.i - b.i).map(({ s }) => s);
  const tcp = (s: ServiceView) => s.ports.filter((p) => p.protocol === 'TCP');

  const clusterIP = svcs.find((s) => s.clusterIP && !s.clusterIP.includes(':') && tcp(s).length > 0);
  if (clusterIP?.clusterIP && client) {
    probes.push({ label: `ClusterIP ${clusterIP.name}`, from: client.name, url: `http://${hostPort(clusterIP.clusterIP, tcp(clusterIP)[0]!.port)}/` });
  }
  if (!entry || !outside) return probes;
  const nodeIP = bareAddress(entry.lanIPv4);
  const nodePort = svcs.find((s) => tcp(s).some((p) => p.nodePort));
  const np = nodePort && tcp(nodePort).find((p) => p.nodePort);
  if (nodePort && np?.nodePort) {
    probes.push({ label: `NodePort ${nodePort.name}`, from: outside, url: `http://${hostPort(nodeIP, np.nodePort)}/` });
  }
  for (const s of svcs) {
    const port = tcp(s)[0]?.port;
    if (!port) continue;
    for (const ip of s.lbIPs.filter((a) => !a.includes(':'))) probes.push({ label: `LoadBalancer ${s.name}`, from: outside, url: `http://${hostPort(ip, port)}/` });
    for (const ip of s.externalIPs.filter((a) => !a.includes(':'))) probes.push({ label: `externalIP ${s.name}`, from: outside, url: `http://${hostPort(ip, port)}/` });
  }
  const ingress = objects.find((o) => o.kind === 'Ingress');
  if (ingress) {
    const rule = arr(obj(ingress.spec).rules).map(obj)[0];
    const host = str(rule?.host);
    const path = str(arr(obj(rule?.http).paths).map(obj)[0]?.path) ?? '/';
    probes.push({
      label: `Ingress ${ingress.metadata.namespace ?? 'default'}/${ingress.metadata.name}`,
      from: outside,
      url: `http://${hostPort(nodeIP, ingressPort)}${path.startsWith('/') ? path : `/${path}`}`,
      ...(host && !host.startsWith('*') ? { headers: { host } } : {}),
    });
  }
  return probes;
};
