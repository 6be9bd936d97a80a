/**
 * Validated shapes of the three kinds the ingress controller reads (networking.k8s.io/v1 Ingress and IngressClass,
 * v1 Secret), and their parsers. Pure: zod only. Unknown fields are dropped; what we keep is what we use.
 */
import { z } from 'zod';

const meta = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  creationTimestamp: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const serviceBackendPort = z
  .object({ number: z.number().int().min(1).max(65535).optional(), name: z.string().min(1).optional() })
  .refine((p) => (p.number === undefined) !== (p.name === undefined), 'exactly one of port.number and port.name');

const backend = z.object({
  service: z.object({ name: z.string().min(1), port: serviceBackendPort }).optional(),
  resource: z.object({ apiGroup: z.string().optional(), kind: z.string(), name: z.string() }).optional(),
});

const httpPath = z.object({
  path: z.string().optional(),
  pathType: z.enum(['Exact', 'Prefix', 'ImplementationSpecific']),
  backend,
});

const rule = z.object({
  host: z.string().optional(),
  http: z.object({ paths: z.array(httpPath) }).optional(),
});

export const ingressSchema = z.object({
  metadata: meta.extend({ namespace: z.string().min(1) }),
  spec: z.object({
    ingressClassName: z.string().optional(),
    defaultBackend: backend.optional(),
    tls: z.array(z.object({ hosts: z.array(z.string()).optional(), secretName: z.string().optional() })).optional(),
    rules: z.array(rule).optional(),
  }),
});

export const ingressClassSchema = z.object({
  metadata: meta,
  spec: z.object({ controller: z.string().optional() }).optional(),
});

export const secretSchema = z.object({
  metadata: meta.extend({ namespace: z.string().min(1) }),
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
});

export type IngressObject = z.infer<typeof ingressSchema>;
export type IngressBackendSpec = z.infer<typeof backend>;
export type IngressClassObject = z.infer<typeof ingressClassSchema>;
export type SecretObject = z.infer<typeof secretSchema>;

/** One line per zod issue, `path: message`, for rejection reasons. */
export const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
