/**
 * Schemas for the parts of the Kubernetes API objects that switchyard reads: v1 Service,
 * discovery.k8s.io/v1 EndpointSlice and v1 Node, as plain JSON (API server or manifest file).
 *
 * Lenient on what we do not use (unknown fields are ignored, fields an API server would fill in may be absent,
 * `null` is accepted wherever Go would serialise a nil slice or pointer); strict on what we use (ports in range,
 * known enums, valid IP addresses), because a bad value there would end up in kernel rules.
 */
import { z } from 'zod';
import { isValidCIDR, isValidIP } from './ip.ts';

const ipString = z.string().refine(isValidIP, { message: 'not a valid IP address' });
const cidrString = z.string().refine(isValidCIDR, { message: 'not a valid CIDR' });
const portNumber = z.number().int().min(1).max(65535);
/** 0 means "none allocated", as the API serialises an unset int32. */
const optionalPortNumber = z.number().int().min(0).max(65535);
const protocol = z.enum(['TCP', 'UDP', 'SCTP']);
const stringMap = z.record(z.string(), z.string());

const objectMeta = z.object({
  name: z.string().min(1),
  namespace: z.string().nullish(),
  labels: stringMap.nullish(),
  annotations: stringMap.nullish(),
  deletionTimestamp: z.string().nullish(),
});

// ---------------------------------------------------------------------------------------------------------------
// Service

const servicePortSpec = z.object({
  name: z.string().nullish(),
  protocol: protocol.nullish(),
  port: portNumber,
  targetPort: z.union([z.number().int(), z.string()]).nullish(),
  nodePort: optionalPortNumber.nullish(),
});

export const serviceSchema = z.object({
  metadata: objectMeta,
  spec: z.object({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).nullish(),
    clusterIP: z.string().nullish(),
    clusterIPs: z.array(z.string()).nullish(),
    ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).nullish(),
    ports: z.array(servicePortSpec).nullish(),
    externalIPs: z.array(ipString).nullish(),
    loadBalancerSourceRanges: z.array(cidrString).nullish(),
    sessionAffinity: z.enum(['None', 'ClientIP']).nullish(),
    sessionAffinityConfig: z
      .object({ clientIP: z.object({ timeoutSeconds: z.number().int().min(1).max(86400).nullish() }).nullish() })
      .nullish(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local']).nullish(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).nullish(),
    healthCheckNodePort: optionalPortNumber.nullish(),
    trafficDistribution: z.string().nullish(),
    externalName: z.string().nullish(),
  }),
  status: z
    .object({
      loadBalancer: z
        .object({
          ingress: z
            .array(
              z.object({
                ip: z.union([ipString, z.literal('')]).nullish(),
                hostname: z.string().nullish(),
                ipMode: z.enum(['VIP', 'Proxy']).nullish(),
              }),
            )
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
export type ServiceObject = z.infer<typeof serviceSchema>;

// ---------------------------------------------------------------------------------------------------------------
// EndpointSlice

const nameRef = z.object({ name: z.string() });

const endpointSpec = z.object({
  addresses: z.array(z.string()).nullish(),
  conditions: z
    .object({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() })
    .nullish(),
  nodeName: z.string().nullish(),
  zone: z.string().nullish(),
  hints: z.object({ forZones: z.array(nameRef).nullish(), forNodes: z.array(nameRef).nullish() }).nullish(),
});

export const endpointSliceSchema = z.object({
  metadata: objectMeta,
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: z.array(endpointSpec).nullish(),
  ports: z
    .array(
      z.object({
        name: z.string().nullish(),
        protocol: protocol.nullish(),
        // 0 / absent ports are skipped (kube-proxy ignores them); anything else must be a real port.
        port: optionalPortNumber.nullish(),
        appProtocol: z.string().nullish(),
      }),
    )
    .nullish(),
});
export type EndpointSliceObject = z.infer<typeof endpointSliceSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Node

export const nodeSchema = z.object({
  metadata: objectMeta,
  spec: z
    .object({
      podCIDR: z.union([cidrString, z.literal('')]).nullish(),
      podCIDRs: z.array(cidrString).nullish(),
      taints: z.array(z.object({ key: z.string() })).nullish(),
    })
    .nullish(),
  status: z
    .object({ addresses: z.array(z.object({ type: z.string(), address: z.string() })).nullish() })
    .nullish(),
});
export type NodeObject = z.infer<typeof nodeSchema>;

// ---------------------------------------------------------------------------------------------------------------

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const MAX_ISSUES_REPORTED = 3;

/** One line naming the offending fields, e.g. `spec.ports[0].port: Too big: expected number to be <=65535`. */
export const describeIssues = (error: z.ZodError): string => {
  const parts = error.issues.slice(0, MAX_ISSUES_REPORTED).map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('');
    return `${path || '(object)'}: ${issue.message}`;
  });
  const more = error.issues.length - MAX_ISSUES_REPORTED;
  return more > 0 ? `${parts.join('; ')} (and ${more} more)` : parts.join('; ');
};

const parseWith =
  <S extends z.ZodType>(schema: S) =>
  (input: unknown): ParseResult<z.infer<S>> => {
    const result = schema.safeParse(input);
    return result.success ? { ok: true, value: result.data } : { ok: false, reason: describeIssues(result.error) };
  };

export const parseService = parseWith(serviceSchema);
export const parseEndpointSlice = parseWith(endpointSliceSchema);
export const parseNode = parseWith(nodeSchema);

/** Namespace of a namespaced object; manifests may leave it out, which means `default` as with kubectl. */
export const namespaceOf = (meta: { readonly namespace?: string | null | undefined }): string =>
  meta.namespace || 'default';
