/**
 * The one event stream that every source (API server informers, a manifests directory) feeds.
 * Objects are plain JSON as the API server serves them (no client-library classes, timestamps as strings);
 * validation and conversion happen downstream in lib/model, so a source never decides what is valid.
 */
export const RESOURCE_KINDS = ['Service', 'EndpointSlice', 'Node', 'Ingress', 'IngressClass', 'Secret'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];
/** What the proxy itself reads (kube-proxy's own kinds); the rest only the Ingress side needs. */
export const PROXY_KINDS: readonly ResourceKind[] = ['Service', 'EndpointSlice', 'Node'];

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A Kubernetes object as plain JSON. Only metadata is trusted to exist; everything else is validated later. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones (Node, IngressClass). */
export const objectKey = (meta: Pick<ObjectMeta, 'name' | 'namespace'>): string =>
  meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;

export type SourceEvent =
  /**
   * The object was created or changed (or seen for the first time after a relist). `origin` says where it came
   * from when that helps a person find it (a manifest file and document), for log lines about it.
   */
  | { readonly type: 'upsert'; readonly kind: ResourceKind; readonly key: string; readonly object: KubeObject; readonly origin?: string }
  /** The object is gone. `object` is its last known state when the source knows it. */
  | { readonly type: 'delete'; readonly kind: ResourceKind; readonly key: string; readonly object?: KubeObject }
  /** The initial list of this kind has been delivered completely. Sent once per kind per source lifetime. */
  | { readonly type: 'synced'; readonly kind: ResourceKind };

export type SourceSink = (event: SourceEvent) => void;

/** Something that produces SourceEvents. Constructing one does no I/O; start() does. */
export interface Source {
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
}
