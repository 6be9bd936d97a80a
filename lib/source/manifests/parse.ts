/**
 * One manifest file's text → the objects switchyard reads from it, plus the documents it had to skip. Pure (no I/O).
 * A source never judges an object's spec (lib/model does); here only what identity needs is checked: a mapping
 * with `kind` and `metadata.name`, string labels/annotations, and the API version of the kinds we read.
 */
import { parseAllDocuments } from 'yaml';
import { objectKey, RESOURCE_KINDS, type KubeObject, type ResourceKind } from '../types.ts';

/** A document (or List item) that was skipped because it is broken. */
export interface ManifestProblem {
  readonly file: string;
  /** 0-based index of the YAML document in the file (always 0 for JSON). */
  readonly document: number;
  /** 0-based index inside a `List`'s items, when the problem is in one item. */
  readonly item?: number;
  readonly message: string;
}

/** A well-formed object of a kind switchyard does not use (Namespace, ConfigMap, an Opaque Secret…). */
export interface IgnoredDocument {
  readonly file: string;
  readonly document: number;
  readonly item?: number;
  readonly kind: string;
  readonly name: string;
  readonly reason: string;
}

export interface ManifestObject {
  readonly kind: ResourceKind;
  readonly key: string;
  /** `Kind/key`: unique across kinds. */
  readonly id: string;
  readonly object: KubeObject;
  /** Key-order-independent serialisation, to drop no-op updates. */
  readonly canonical: string;
  /** `file: document N (0-based)[, List item M]`, for log lines about this object. */
  readonly origin: string;
}

export interface ParsedManifestFile {
  readonly objects: readonly ManifestObject[];
  readonly problems: readonly ManifestProblem[];
  readonly ignored: readonly IgnoredDocument[];
}

const formatWhere = (w: Where): string =>
  `${w.file}: document ${w.document} (0-based)${w.item === undefined ? '' : `, List item ${w.item}`}`;

export const formatProblem = (p: ManifestProblem): string => `${formatWhere(p)}: ${p.message}`;

const API_VERSIONS: Readonly<Record<ResourceKind, string>> = {
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Node: 'v1',
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  Secret: 'v1',
};
const CLUSTER_SCOPED: ReadonlySet<ResourceKind> = new Set(['Node', 'IngressClass']);
const TLS_SECRET_TYPE = 'kubernetes.io/tls';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isResourceKind = (k: string): k is ResourceKind => (RESOURCE_KINDS as readonly string[]).includes(k);

/** JSON with object keys sorted, so two equal objects written in a different key order compare equal. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
};

type Where = { readonly file: string; readonly document: number; readonly item?: number };
type Verdict<T> =
  | { readonly ok: T }
  | { readonly problem: string }
  | { readonly ignored: { kind: string; name: string; reason: string } };

const stringMapProblem = (value: unknown, field: string): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) return `${field} must be a map of strings`;
  const bad = Object.entries(value).find(([, v]) => typeof v !== 'string');
  return bad ? `${field}.${bad[0]} must be a string (quote it), got ${JSON.stringify(bad[1])}` : undefined;
};

/** Checks one object (a document or a List item) and normalises its metadata. */
const examine = (value: unknown): Verdict<Omit<ManifestObject, 'origin'>> => {
  if (!isRecord(value)) return { problem: `expected a mapping (an object), got ${Array.isArray(value) ? 'a list' : typeof value}` };
  const kind = value['kind'];
  if (typeof kind !== 'string' || kind === '') return { problem: 'missing kind' };
  const metadata = value['metadata'];
  const name = isRecord(metadata) ? metadata['name'] : undefined;
  if (!isRecord(metadata) || typeof name !== 'string' || name === '') {
    return { problem: `${kind}: missing metadata.name` };
  }
  if (!isResourceKind(kind)) return { ignored: { kind, name, reason: 'kind not used by switchyard' } };
  const apiVersion = value['apiVersion'];
  if (apiVersion !== undefined && apiVersion !== API_VERSIONS[kind]) {
    return { problem: `${kind} ${name}: apiVersion ${JSON.stringify(apiVersion)} is not supported (expected ${API_VERSIONS[kind]})` };
  }
  const namespace = metadata['namespace'];
  if (namespace !== undefined && namespace !== null && (typeof namespace !== 'string' || namespace === '')) {
    return { problem: `${kind} ${name}: metadata.namespace must be a non-empty string` };
  }
  const mapProblem =
    stringMapProblem(metadata['labels'], 'metadata.labels') ??
    stringMapProblem(metadata['annotations'], 'metadata.annotations');
  if (mapProblem) return { problem: `${kind} ${name}: ${mapProblem}` };
  if (kind === 'Secret' && value['type'] !== TLS_SECRET_TYPE) {
    return { ignored: { kind, name, reason: `Secret type ${JSON.stringify(value['type'] ?? 'Opaque')} is not ${TLS_SECRET_TYPE}` } };
  }

  const meta: Record<string, unknown> = { ...metadata };
  if (CLUSTER_SCOPED.has(kind)) delete meta['namespace'];
  else meta['namespace'] = typeof namespace === 'string' ? namespace : 'default';
  const object = deepFreeze({ ...value, metadata: meta }) as unknown as KubeObject;
  const key = objectKey(object.metadata);
  return { ok: { kind, key, id: `${kind}/${key}`, object, canonical: canonicalJson(object) } };
};

const isList = (value: unknown): value is Record<string, unknown> & { items: unknown } =>
  isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && 'items' in value;

class Collector {
  readonly objects: ManifestObject[] = [];
  readonly problems: ManifestProblem[] = [];
  readonly ignored: IgnoredDocument[] = [];

  problem(where: Where, message: string): void {
    this.problems.push({ ...where, message });
  }

  /** A document's value: one object, a List of objects, or nothing (an empty document or only comments). */
  add(where: Where, value: unknown): void {
    if (value === null || value === undefined) return;
    if (isList(value)) {
      const items = value['items'];
      if (items === null) return;
      if (!Array.isArray(items)) return this.problem(where, `${String(value['kind'])}: items must be a list`);
      items.forEach((item, index) => this.one({ ...where, item: index }, item));
      return;
    }
    this.one(where, value);
  }

  private one(where: Where, value: unknown): void {
    const verdict = examine(value);
    if ('ok' in verdict) this.objects.push({ ...verdict.ok, origin: formatWhere(where) });
    else if ('problem' in verdict) this.problem(where, verdict.problem);
    else this.ignored.push({ ...where, ...verdict.ignored });
  }
}

export type ManifestFormat = 'yaml' | 'json';

export const manifestFormat = (fileName: string): ManifestFormat | undefined => {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
};

/** Parses one file's text. `file` is only used to label problems. */
export const parseManifestText = (file: string, text: string, format: ManifestFormat): ParsedManifestFile => {
  const out = new Collector();
  if (format === 'json') {
    let value: unknown;
    try {
      value = text.trim() === '' ? null : JSON.parse(text);
    } catch (e) {
      out.problem({ file, document: 0 }, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
      return out;
    }
    out.add({ file, document: 0 }, value);
    return out;
  }
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, document) => {
    const error = doc.errors[0];
    if (error) {
      // With pretty errors the first line reads "<what> at line L, column C:" (lines count from 1, whole file).
      out.problem({ file, document }, `invalid YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      out.problem({ file, document }, `invalid YAML: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    out.add({ file, document }, value);
  });
  return out;
};
