/**
 * v1 Service → ServicePort[], with kube-proxy's rules (pkg/proxy/service.go, servicechangetracker.go,
 * pkg/api/v1/service/util.go). The result carries every family the Service has; lib/plan filters per family.
 */
import { namespaceOf, parseService, type ParseResult, type ServiceObject } from './api.ts';
import { parseCIDR, parseIP } from './ip.ts';
import { servicePortKey, type IPFamily, type ServicePort, type ServiceType } from './types.ts';

/** kube-proxy's informers never see objects with this label: another proxy implementation owns them. */
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
/** Set by the EndpointSlice controller on slices of headless Services; kube-proxy's informers exclude it too. */
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

/** The API server's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** Why kube-proxy would not proxy this Service at all, or undefined when it would. */
export const skipReason = (svc: ServiceObject): string | undefined => {
  const labels = svc.metadata.labels ?? {};
  if (LABEL_SERVICE_PROXY_NAME in labels) return `label ${LABEL_SERVICE_PROXY_NAME} is set`;
  if (LABEL_HEADLESS in labels) return `label ${LABEL_HEADLESS} is set`;
  if (svc.spec.type === 'ExternalName') return 'type ExternalName';
  const primary = svc.spec.clusterIP || svc.spec.clusterIPs?.[0] || '';
  if (primary === '') return 'no clusterIP';
  if (primary === 'None') return 'headless (clusterIP None)';
  return undefined;
};

const dedupe = <T>(items: readonly T[]): T[] => [...new Set(items)];

interface ClusterIPs {
  readonly ips: readonly string[];
  readonly families: readonly IPFamily[];
}

/** The Service's cluster IPs, one per family, primary first; a reason string when they are inconsistent. */
const clusterIPsOf = (svc: ServiceObject): ClusterIPs | string => {
  const { clusterIP, clusterIPs, ipFamilies } = svc.spec;
  const raw = clusterIPs && clusterIPs.length > 0 ? clusterIPs : clusterIP ? [clusterIP] : [];
  if (clusterIP && raw[0] !== clusterIP) {
    return `spec.clusterIP ${clusterIP} differs from spec.clusterIPs[0] ${raw[0] ?? ''}`;
  }
  const ips: string[] = [];
  const families: IPFamily[] = [];
  for (const [i, text] of raw.entries()) {
    const parsed = parseIP(text);
    if (!parsed) return `spec.clusterIPs[${i}]: ${JSON.stringify(text)} is not a valid IP address`;
    if (families.includes(parsed.family)) return `spec.clusterIPs has two IPv${parsed.family} addresses`;
    const declared = ipFamilies?.[i];
    if (declared && declared !== `IPv${parsed.family}`) {
      return `spec.ipFamilies[${i}] is ${declared} but spec.clusterIPs[${i}] is ${text}`;
    }
    ips.push(parsed.ip);
    families.push(parsed.family);
  }
  return { ips, families };
};

const serviceTypeOf = (svc: ServiceObject): ServiceType => {
  const type = svc.spec.type;
  return type === 'NodePort' || type === 'LoadBalancer' ? type : 'ClusterIP';
};

/** pkg/api/v1/service ExternallyAccessible: whether externalTrafficPolicy means anything for this Service. */
const externallyAccessibleType = (svc: ServiceObject, type: ServiceType): boolean =>
  type === 'LoadBalancer' || type === 'NodePort' || (svc.spec.externalIPs ?? []).length > 0;

/** ServicePorts of an already schema-validated Service. `[]` when kube-proxy would skip it. */
export const servicePortsFromObject = (svc: ServiceObject): ParseResult<readonly ServicePort[]> => {
  if (skipReason(svc) !== undefined) return { ok: true, value: [] };
  const cluster = clusterIPsOf(svc);
  if (typeof cluster === 'string') return { ok: false, reason: cluster };

  const namespace = namespaceOf(svc.metadata);
  const name = svc.metadata.name;
  const type = serviceTypeOf(svc);
  const spec = svc.spec;

  const externalPolicyLocal = externallyAccessibleType(svc, type) && spec.externalTrafficPolicy === 'Local';
  const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
  const healthCheckNodePort =
    type === 'LoadBalancer' && externalPolicyLocal ? (spec.healthCheckNodePort ?? 0) : 0;
  const sessionAffinityTimeoutSeconds =
    spec.sessionAffinity === 'ClientIP'
      ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS)
      : undefined;
  // Schemas already checked these parse.
  const externalIPs = dedupe((spec.externalIPs ?? []).map((ip) => parseIP(ip)?.ip ?? ip));
  const loadBalancerSourceRanges = dedupe(
    (spec.loadBalancerSourceRanges ?? []).map((cidr) => parseCIDR(cidr)?.cidr ?? cidr),
  );
  // ipMode Proxy: the load balancer delivers to the node IP itself, so the LB IP must not be captured here.
  const loadBalancerIPs = dedupe(
    (svc.status?.loadBalancer?.ingress ?? [])
      .filter((ingress) => ingress.ip && ingress.ipMode !== 'Proxy')
      .map((ingress) => parseIP(ingress.ip ?? '')?.ip ?? ''),
  );

  const seenNames = new Set<string>();
  const ports: ServicePort[] = [];
  for (const [i, port] of (spec.ports ?? []).entries()) {
    const portName = port.name ?? '';
    if (seenNames.has(portName)) {
      return { ok: false, reason: `spec.ports[${i}]: duplicate port name ${JSON.stringify(portName)}` };
    }
    seenNames.add(portName);
    ports.push({
      key: servicePortKey(namespace, name, portName),
      namespace,
      name,
      portName,
      type,
      protocol: port.protocol ?? 'TCP',
      port: port.port,
      // The API server refuses nodePort on ClusterIP Services; manifests are not validated, so drop it here.
      nodePort: type === 'ClusterIP' ? 0 : (port.nodePort ?? 0),
      clusterIPs: cluster.ips,
      ipFamilies: cluster.families,
      externalIPs,
      loadBalancerIPs,
      loadBalancerSourceRanges,
      sessionAffinityTimeoutSeconds,
      externalPolicyLocal,
      internalPolicyLocal,
      healthCheckNodePort,
      trafficDistribution: spec.trafficDistribution ?? undefined,
    });
  }
  return { ok: true, value: ports };
};

/** Validate a Service as plain JSON and convert it. `[]` when kube-proxy would skip it. */
export const servicePortsFromService = (input: unknown): ParseResult<readonly ServicePort[]> => {
  const parsed = parseService(input);
  return parsed.ok ? servicePortsFromObject(parsed.value) : parsed;
};
