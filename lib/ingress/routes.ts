/**
 * Ingress objects + the service view → an immutable RouteTable. Pure: no I/O; certificate checking is passed in.
 *
 * Decisions (where the Ingress spec leaves room; ingress-nginx is the reference where it has an answer):
 * - Class: an Ingress is served when spec.ingressClassName names an IngressClass whose controller is ours. Without
 *   spec.ingressClassName, the deprecated `kubernetes.io/ingress.class` annotation is honoured the same way (its
 *   value must name one of OUR IngressClasses — no bare-string magic). With neither, it is served only when one of
 *   our IngressClasses is marked default. Both set (the API server forbids it; a manifest may not): spec wins.
 * - Hosts: a request's host selects exactly one set of rules: an exact host rule, else a `*.parent` wildcard rule
 *   (one label only), else the rules without a host. It never falls back from a matching host to the host-less
 *   rules (that is how ingress-nginx's server blocks behave); unmatched paths go to the default backend.
 * - Paths: Exact compares the whole path; Prefix compares `/`-separated elements and ignores trailing slashes;
 *   ImplementationSpecific is treated as Prefix. Longest path wins, Exact beats Prefix on a tie.
 * - Conflicts (same host, same normalised path, same type in several Ingresses): the oldest Ingress wins
 *   (creationTimestamp; objects without one count as newest; then namespace/name). The same for a host's TLS
 *   certificate and for spec.defaultBackend.
 * - A service port given by number resolves to the Service's TCP port with that number; by name, to that port
 *   name. A Service or port that does not exist (yet) still gets a route, which answers 503.
 * - TLS: `hosts` omitted means the Ingress's rule hosts. Secret keys `tls.crt`/`tls.key` come from `data`
 *   (base64) or `stringData` (plain, as written in manifests; it wins over `data` as on the API server).
 */
import type { Endpoint, ServicePort } from '../model/types.ts';
import { servicePortKey } from '../model/types.ts';
import type { IngressBackendSpec, IngressClassObject, IngressObject, SecretObject } from './objects.ts';
import type {
  Backend,
  PathRoute,
  PathType,
  RouteProblem,
  RouteTable,
  ServiceView,
  TlsCertificate,
  VirtualHost,
} from './types.ts';

export const CONTROLLER_NAME = 'switchyard.io/ingress-controller';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export interface RouteOptions {
  /** Defaults to CONTROLLER_NAME. */
  readonly controller?: string;
  /**
   * Returns why a PEM certificate/key pair is unusable, or undefined when it is fine. The server passes a
   * node:crypto-backed check (certificates.ts); without one only the PEM armour is checked.
   */
  readonly checkCertificate?: (certPem: string, keyPem: string) => string | undefined;
  /** Default true. False (no HTTPS listener): `spec.tls` is not read — no certificates, no problems about them. */
  readonly tls?: boolean;
}

const armourCheck = (cert: string, key: string): string | undefined => {
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) return 'tls.crt is not a PEM certificate';
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) return 'tls.key is not a PEM private key';
  return undefined;
};

/** Which Ingresses this controller serves, by the class rules above. */
export const servedByUs = (
  ingress: IngressObject,
  classes: readonly IngressClassObject[],
  controller: string = CONTROLLER_NAME,
): boolean => {
  const ours = classes.filter((c) => c.spec?.controller === controller);
  const className = ingress.spec.ingressClassName ?? ingress.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (className !== undefined) return ours.some((c) => c.metadata.name === className);
  return ours.some((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
};

const ingressKey = (i: IngressObject): string => `${i.metadata.namespace}/${i.metadata.name}`;

/** Oldest first; no timestamp counts as newest; then namespace/name. */
export const compareAge = (a: IngressObject, b: IngressObject): number => {
  const ta = a.metadata.creationTimestamp ? Date.parse(a.metadata.creationTimestamp) : Number.NaN;
  const tb = b.metadata.creationTimestamp ? Date.parse(b.metadata.creationTimestamp) : Number.NaN;
  const na = Number.isNaN(ta) ? Number.POSITIVE_INFINITY : ta;
  const nb = Number.isNaN(tb) ? Number.POSITIVE_INFINITY : tb;
  if (na !== nb) return na < nb ? -1 : 1;
  const ka = ingressKey(a);
  const kb = ingressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Lower-cased host, or undefined when it is not a DNS name or a `*.` wildcard over one. */
export const normaliseRuleHost = (host: string): string | undefined => {
  const h = host.toLowerCase().replace(/\.$/, '');
  const labels = h.startsWith('*.') ? h.slice(2).split('.') : h.split('.');
  if (h.length > 253 || labels.length === 0 || !labels.every((l) => l.length <= 63 && DNS_LABEL.test(l))) {
    return undefined;
  }
  return h;
};

/** Prefix paths match element-wise, so `/foo/` ≡ `/foo`, and `/` becomes `` (a prefix of every path). */
export const normalisePrefix = (path: string): string => path.replace(/\/+$/, '');

interface HostBuilder {
  readonly exact: Map<string, PathRoute>;
  readonly prefixes: Map<string, PathRoute>;
}

const freezeHost = (b: HostBuilder): VirtualHost => ({
  exact: b.exact,
  prefixes: [...b.prefixes.values()].sort((x, y) => y.path.length - x.path.length),
});

/** Decodes a Secret value: stringData as is, data from base64. Undefined when absent or not base64. */
const secretValue = (secret: SecretObject, key: string): string | undefined => {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const encoded = secret.data?.[key];
  if (encoded === undefined) return undefined;
  const compact = encoded.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return undefined;
  const binary = atob(compact);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
};

export const buildRouteTable = (
  ingresses: readonly IngressObject[],
  classes: readonly IngressClassObject[],
  secrets: ReadonlyMap<string, SecretObject>,
  view: ServiceView,
  options: RouteOptions = {},
): RouteTable => {
  const controller = options.controller ?? CONTROLLER_NAME;
  const checkCertificate = options.checkCertificate ?? armourCheck;
  const problems: RouteProblem[] = [];
  const served = ingresses.filter((i) => servedByUs(i, classes, controller)).sort(compareAge);

  // Service ports by `namespace/name`, for resolving ports given by number.
  const portsByService = new Map<string, ServicePort[]>();
  for (const sp of view.services.values()) {
    const k = `${sp.namespace}/${sp.name}`;
    const list = portsByService.get(k);
    if (list) list.push(sp);
    else portsByService.set(k, [sp]);
  }

  const resolveBackend = (namespace: string, spec: IngressBackendSpec, where: string): Backend | undefined => {
    if (!spec.service) {
      const what = spec.resource ? `resource backend ${spec.resource.kind}/${spec.resource.name}` : 'empty backend';
      problems.push({ object: where, message: `${what} is not supported; ignored` });
      return undefined;
    }
    const service = `${namespace}/${spec.service.name}`;
    const { number, name } = spec.service.port;
    const ports = portsByService.get(service) ?? [];
    const port =
      name !== undefined
        ? ports.find((p) => p.portName === name)
        : ports.find((p) => p.port === number && p.protocol === 'TCP');
    if (!port) {
      problems.push({
        object: where,
        message: `service ${service} port ${name ?? number} does not exist (yet); requests get 503`,
      });
      return { service, servicePortKey: undefined, endpoints: [] };
    }
    const key = servicePortKey(port.namespace, port.name, port.portName);
    const endpoints: readonly Endpoint[] = view.endpoints.get(key) ?? [];
    return { service, servicePortKey: key, endpoints };
  };

  const exactHosts = new Map<string, HostBuilder>();
  const wildcardHosts = new Map<string, HostBuilder>();
  let anyHost: HostBuilder | undefined;
  let defaultBackend: Backend | undefined;
  const certificates = new Map<string, TlsCertificate>();
  const certificateVerdicts = new Map<string, TlsCertificate | undefined>();

  const hostBuilder = (host: string | undefined): HostBuilder => {
    const fresh = (): HostBuilder => ({ exact: new Map(), prefixes: new Map() });
    if (host === undefined) return (anyHost ??= fresh());
    const [map, key] = host.startsWith('*.') ? [wildcardHosts, host.slice(2)] : [exactHosts, host];
    let b = map.get(key);
    if (!b) map.set(key, (b = fresh()));
    return b;
  };

  for (const ingress of served) {
    const key = ingressKey(ingress);
    const where = `Ingress ${key}`;
    const namespace = ingress.metadata.namespace;
    const ruleHosts: string[] = [];

    if (ingress.spec.defaultBackend) {
      const backend = resolveBackend(namespace, ingress.spec.defaultBackend, `${where} defaultBackend`);
      if (backend && defaultBackend === undefined) defaultBackend = backend;
      else if (backend) problems.push({ object: where, message: 'defaultBackend ignored: an older Ingress has one' });
    }

    for (const rule of ingress.spec.rules ?? []) {
      let host: string | undefined;
      if (rule.host !== undefined && rule.host !== '') {
        host = normaliseRuleHost(rule.host);
        if (host === undefined) {
          problems.push({ object: where, message: `invalid host ${JSON.stringify(rule.host)}; rule skipped` });
          continue;
        }
        ruleHosts.push(host);
      }
      const builder = hostBuilder(host);
      for (const p of rule.http?.paths ?? []) {
        const raw = p.path ?? (p.pathType === 'ImplementationSpecific' ? '/' : '');
        if (!raw.startsWith('/')) {
          problems.push({ object: where, message: `path ${JSON.stringify(raw)} is not absolute; skipped` });
          continue;
        }
        const backend = resolveBackend(namespace, p.backend, `${where} path ${raw}`);
        if (!backend) continue;
        const type: PathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const path = type === 'Exact' ? raw : normalisePrefix(raw);
        const table = type === 'Exact' ? builder.exact : builder.prefixes;
        const existing = table.get(path);
        if (existing) {
          if (existing.ingress !== key) {
            problems.push({
              object: where,
              message: `${type} ${raw} on host ${host ?? '*'} is already served by older Ingress ${existing.ingress}`,
            });
          }
          continue;
        }
        table.set(path, { path, type, backend, ingress: key });
      }
    }

    for (const tls of options.tls === false ? [] : (ingress.spec.tls ?? [])) {
      if (!tls.secretName) {
        problems.push({ object: where, message: 'tls entry without secretName skipped' });
        continue;
      }
      const secretKey = `${namespace}/${tls.secretName}`;
      let certificate = certificateVerdicts.get(secretKey);
      if (!certificateVerdicts.has(secretKey)) {
        const secret = secrets.get(secretKey);
        const cert = secret && secretValue(secret, 'tls.crt');
        const keyPem = secret && secretValue(secret, 'tls.key');
        const reason = !secret
          ? 'not found (or has no tls.crt/tls.key)'
          : cert === undefined || keyPem === undefined
            ? 'tls.crt or tls.key missing or not valid base64'
            : checkCertificate(cert, keyPem);
        certificate = reason === undefined ? { cert: cert!, key: keyPem!, secret: secretKey } : undefined;
        if (reason !== undefined) {
          problems.push({ object: `Secret ${secretKey}`, message: `${reason}; TLS for ${where} skipped` });
        }
        certificateVerdicts.set(secretKey, certificate);
      }
      if (!certificate) continue;
      const hosts = tls.hosts && tls.hosts.length > 0 ? tls.hosts : ruleHosts;
      for (const h of hosts) {
        const host = normaliseRuleHost(h);
        if (host === undefined) {
          problems.push({ object: where, message: `invalid TLS host ${JSON.stringify(h)} skipped` });
        } else if (!certificates.has(host)) {
          certificates.set(host, certificate);
        } else if (certificates.get(host)!.secret !== secretKey) {
          problems.push({ object: where, message: `TLS host ${host} already has a certificate from an older Ingress` });
        }
      }
    }
  }

  const freezeAll = (m: Map<string, HostBuilder>): Map<string, VirtualHost> =>
    new Map([...m].map(([k, b]) => [k, freezeHost(b)]));

  return {
    exactHosts: freezeAll(exactHosts),
    wildcardHosts: freezeAll(wildcardHosts),
    anyHost: anyHost ? freezeHost(anyHost) : undefined,
    defaultBackend,
    certificates,
    ingresses: served.map(ingressKey),
    problems,
  };
};
