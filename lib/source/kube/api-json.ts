/**
 * Raw JSON from the API server, fetched with the kubeconfig's credentials. Lists are read as plain JSON rather than
 * through client-node's typed API so objects keep every field (typed models drop unknown ones and turn timestamps
 * into Date instances) and match what watch events carry.
 */
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { SwitchyardError } from '../../errors.ts';
import type { KubeObject } from '../types.ts';

export interface ObjectList {
  readonly metadata: { readonly resourceVersion?: string };
  readonly items: KubeObject[];
}

/** An HTTP failure, shaped like client-node's (statusCode/code), so ListWatch recognises 410. */
export class ApiStatusError extends Error {
  readonly statusCode: number;
  readonly code: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'ApiStatusError';
    this.statusCode = statusCode;
    this.code = statusCode;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Fills in kind/apiVersion (list items from a real API server carry neither). */
export const asKubeObject = (raw: unknown, kind: string, apiVersion: string): KubeObject | undefined => {
  if (!isObject(raw) || !isObject(raw.metadata) || typeof raw.metadata.name !== 'string') return undefined;
  return { ...raw, kind: typeof raw.kind === 'string' ? raw.kind : kind, apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : apiVersion } as KubeObject;
};

export interface ListRequest {
  readonly path: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly timeoutMs: number;
}

export const serverUrlOf = (kc: KubeConfig): string => kc.getCurrentCluster()?.server ?? '(no current cluster)';

export const listObjects = async (kc: KubeConfig, req: ListRequest): Promise<ObjectList> => {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', 'kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + req.path);
  if (req.labelSelector) url.searchParams.set('labelSelector', req.labelSelector);
  if (req.fieldSelector) url.searchParams.set('fieldSelector', req.fieldSelector);
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const response = await fetch(url, {
    headers: { ...ctx.getHeaders(), Accept: 'application/json' },
    dispatcher: ctx.getDispatcher(),
    signal: AbortSignal.timeout(req.timeoutMs),
  });
  const text = await response.text();
  if (response.status !== 200) {
    let message = text.slice(0, 200);
    try {
      const body: unknown = JSON.parse(text);
      if (isObject(body) && typeof body.message === 'string') message = body.message;
    } catch {
      // not JSON: keep the raw text
    }
    throw new ApiStatusError(response.status, `list ${url.pathname} returned HTTP ${response.status}: ${message}`);
  }
  const body: unknown = JSON.parse(text);
  if (!isObject(body) || !Array.isArray(body.items)) {
    throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', `list ${url.pathname} returned no items array`);
  }
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const items = body.items.map((raw) => asKubeObject(raw, req.kind, req.apiVersion)).filter((o) => o !== undefined);
  return { metadata: { resourceVersion: typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '' }, items };
};

/** One line describing an error and its causes (undici hides ECONNREFUSED and friends in `cause`). */
export const describeCause = (e: unknown): string => {
  const parts: string[] = [];
  let current: unknown = e;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (current instanceof Error) {
      const { code, statusCode } = current as { code?: unknown; statusCode?: unknown };
      let text = current.message;
      if (typeof statusCode === 'number' && !text.includes(String(statusCode))) text = `HTTP ${statusCode} ${text}`;
      if (typeof code === 'string' && !text.includes(code)) text = `${text} (${code})`;
      parts.push(text);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
};
