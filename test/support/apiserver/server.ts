/**
 * An in-process Kubernetes API server for tests: list/watch/get/create/update/patch/delete over the real wire
 * protocol (JSON lists with a resourceVersion, chunked JSON-lines watches with replay, bookmarks and 410 Expired),
 * the discovery endpoints kubectl needs, and fault injection for control-plane tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { coreVersions, groupDocument, groupList, resourceByPath, resourceList, versionInfo, type ResourceType } from './resources.ts';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.ts';
import { ObjectStore, StoreError, type JsonObject, type StoredEvent } from './store.ts';
import { apiVersionOf } from './resources.ts';
import { mergePatch } from './merge-patch.ts';

export interface TestApiServerOptions {
  /** How often a watch that asked for bookmarks gets one. */
  readonly bookmarkIntervalMs?: number;
  /** Events kept for watch replay; older ones are compacted away (410 Expired). */
  readonly maxHistory?: number;
}

export interface RequestFilter {
  /** Matches when the request path+query contains this text. */
  readonly pathIncludes?: string;
  readonly method?: string;
}

interface FailRule extends RequestFilter {
  remaining: number;
  readonly status: number;
}

interface OpenWatch {
  readonly type: ResourceType;
  readonly url: string;
  readonly res: ServerResponse;
  stalled: boolean;
}

export interface RequestRecord {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

const status = (code: number, reason: string, message: string): object => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

const matches = (filter: RequestFilter | undefined, method: string, url: string): boolean =>
  !filter || ((!filter.pathIncludes || url.includes(filter.pathIncludes)) && (!filter.method || filter.method === method));

export class TestApiServer {
  readonly store: ObjectStore;
  readonly requests: RequestRecord[] = [];
  private readonly bookmarkIntervalMs: number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private failRules: FailRule[] = [];
  private expireRules: Array<RequestFilter & { remaining: number }> = [];
  private port = 0;
  private listening = false;

  constructor(options: TestApiServerOptions = {}) {
    this.store = new ObjectStore(options.maxHistory);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1 (a free port the first time, the same port after goDown()/comeUp()). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.listening = true;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.goDown();
  }

  // ---- programmatic API for tests ----
  create(obj: Record<string, unknown>): JsonObject {
    return this.store.create(obj);
  }
  update(obj: Record<string, unknown>): JsonObject {
    return this.store.update(obj);
  }
  apply(obj: Record<string, unknown>): JsonObject {
    return this.store.apply(obj);
  }
  delete(kind: string, namespace: string | undefined, name: string): JsonObject {
    return this.store.delete(kind, namespace, name);
  }
  list(kind: string, namespace?: string): JsonObject[] {
    return this.store.list(kind, namespace);
  }
  compact(): void {
    this.store.compact();
  }

  // ---- fault injection ----
  /** Answer the next `count` matching requests with `status` (default 500) and a Status body. */
  failNext(count: number, filter: RequestFilter & { status?: number } = {}): void {
    this.failRules.push({ ...filter, remaining: count, status: filter.status ?? 500 });
  }
  /** Forget every pending failNext rule: the server answers normally again. */
  clearFailures(): void {
    this.failRules = [];
  }
  /** The next `count` matching watch requests get an ERROR 410 Expired event, as if their RV were compacted. */
  expireNextWatch(count = 1, filter?: RequestFilter): void {
    this.expireRules.push({ ...filter, remaining: count });
  }
  /** Destroy the sockets of open watches (abrupt close, no chunked terminator). Returns how many. */
  dropWatches(filter?: RequestFilter): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (!matches(filter, 'GET', w.url)) continue;
      w.res.socket?.destroy();
      this.watches.delete(w);
      n++;
    }
    return n;
  }
  /** Open watches stop sending anything (events, bookmarks) but keep their sockets open. Returns how many. */
  stallWatches(filter?: RequestFilter): number {
    let n = 0;
    for (const w of this.watches) {
      if (matches(filter, 'GET', w.url) && !w.stalled) {
        w.stalled = true;
        n++;
      }
    }
    return n;
  }
  openWatches(filter?: RequestFilter): number {
    return [...this.watches].filter((w) => matches(filter, 'GET', w.url) && !w.stalled).length;
  }
  /** Stop listening and cut every connection, like an API server going away. */
  async goDown(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.watches.clear();
    await closed;
  }
  /** Listen again on the same port. */
  async comeUp(): Promise<void> {
    await this.start();
  }

  // ---- HTTP ----
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    res.on('finish', () => this.requests.push({ method, url: rawUrl, status: res.statusCode }));
    try {
      const rule = this.failRules.find((r) => r.remaining > 0 && matches(r, method, rawUrl));
      if (rule) {
        rule.remaining--;
        this.failRules = this.failRules.filter((r) => r.remaining > 0);
        return this.send(res, rule.status, status(rule.status, 'InternalError', 'injected failure'));
      }
      await this.route(req, res, method, new URL(rawUrl, 'http://localhost'));
    } catch (e) {
      if (e instanceof StoreError) return this.send(res, e.code, status(e.code, e.reason, e.message));
      if (e instanceof SelectorError) return this.send(res, 400, status(400, 'BadRequest', e.message));
      if (e instanceof SyntaxError) return this.send(res, 400, status(400, 'BadRequest', `invalid body: ${e.message}`));
      if (!res.headersSent) this.send(res, 500, status(500, 'InternalError', String(e)));
    }
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async route(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const segs = url.pathname.split('/').filter((s) => s !== '');
    const notFound = (): void => this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const path = `/${segs.join('/')}`;
    if (method === 'GET') {
      if (path === '/version') return this.send(res, 200, versionInfo());
      if (path === '/api') return this.send(res, 200, coreVersions(`127.0.0.1:${this.port}`));
      if (path === '/apis') return this.send(res, 200, groupList());
      if (path === '/api/v1') return this.send(res, 200, resourceList('v1'));
      if (segs[0] === 'apis' && segs.length === 2) return this.sendOr404(res, groupDocument(segs[1]!));
      if (segs[0] === 'apis' && segs.length === 3) return this.sendOr404(res, resourceList(`${segs[1]}/${segs[2]}`));
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs[1] === 'v1') [group, version, rest] = ['', 'v1', segs.slice(2)];
    else if (segs[0] === 'apis' && segs.length >= 4) [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
    else return notFound();

    let namespace: string | undefined;
    let plural: string;
    let name: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, plural, name] = [rest[1], rest[2]!, rest[3]];
    else [plural, name] = [rest[0]!, rest[1]];
    const type = resourceByPath(group, version, plural);
    // `…/<name>/status`: the status subresource.
    const subresource = rest.length === (namespace ? 5 : 3) && name !== undefined ? rest[rest.length - 1] : undefined;
    if (subresource !== undefined && subresource !== 'status') return notFound();
    if (!type || rest.length > (namespace ? 4 : 2) + (subresource ? 1 : 0) || (namespace !== undefined && !type.namespaced)) {
      return notFound();
    }
    if (!type.namespaced && name === undefined && namespace !== undefined) return notFound();
    if (subresource === 'status') return this.routeStatus(req, res, method, type, type.namespaced ? namespace : undefined, name!);

    if (name === undefined) {
      if (method === 'GET') {
        const watch = url.searchParams.get('watch');
        if (watch === 'true' || watch === '1') return this.watch(res, type, namespace, url);
        return this.sendList(res, type, namespace, url);
      }
      if (method === 'POST') {
        const body = await readJson(req);
        const meta = (body.metadata ?? {}) as Record<string, unknown>;
        if (type.namespaced) meta.namespace = namespace ?? meta.namespace ?? 'default';
        return this.send(res, 201, this.store.create({ ...body, kind: type.kind, metadata: meta }));
      }
      return this.send(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed on a collection`));
    }
    const ns = type.namespaced ? namespace : undefined;
    switch (method) {
      case 'GET': {
        const obj = this.store.get(type.kind, ns, name);
        if (!obj) return this.send(res, 404, status(404, 'NotFound', `${type.plural} "${name}" not found`));
        return this.send(res, 200, obj);
      }
      case 'PUT': {
        const body = await readJson(req);
        const meta = { ...((body.metadata ?? {}) as Record<string, unknown>), name, ...(ns ? { namespace: ns } : {}) };
        return this.send(res, 200, this.store.update({ ...body, kind: type.kind, metadata: meta }));
      }
      case 'PATCH': {
        const current = this.store.get(type.kind, ns, name);
        if (!current) return this.send(res, 404, status(404, 'NotFound', `${type.plural} "${name}" not found`));
        const contentType = req.headers['content-type'] ?? '';
        if (contentType.includes('json-patch+json') || contentType.includes('apply-patch')) {
          return this.send(res, 415, status(415, 'UnsupportedMediaType', `patch type ${contentType} not supported`));
        }
        const patched = mergePatch(current, await readJson(req)) as JsonObject;
        delete patched.metadata.resourceVersion;
        return this.send(res, 200, this.store.update(patched));
      }
      case 'DELETE':
        return this.send(res, 200, this.store.delete(type.kind, ns, name));
      default:
        return this.send(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed`));
    }
  }

  /**
   * The status subresource, as the real API server treats it: GET returns the object; PUT and PATCH change only
   * `status` (anything else in the body is ignored), PUT honours a given resourceVersion.
   */
  private async routeStatus(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    type: ResourceType,
    ns: string | undefined,
    name: string,
  ): Promise<void> {
    const current = this.store.get(type.kind, ns, name);
    if (!current) return this.send(res, 404, status(404, 'NotFound', `${type.plural} "${name}" not found`));
    switch (method) {
      case 'GET':
        return this.send(res, 200, current);
      case 'PUT': {
        const body = await readJson(req);
        const given = (body.metadata as Record<string, unknown> | undefined)?.resourceVersion;
        const next = { ...current, status: body.status } as JsonObject;
        if (typeof given === 'string' && given !== '') next.metadata.resourceVersion = given;
        else delete next.metadata.resourceVersion;
        return this.send(res, 200, this.store.update(next));
      }
      case 'PATCH': {
        const contentType = req.headers['content-type'] ?? '';
        if (contentType.includes('json-patch+json') || contentType.includes('apply-patch')) {
          return this.send(res, 415, status(415, 'UnsupportedMediaType', `patch type ${contentType} not supported`));
        }
        const patched = mergePatch(current, await readJson(req)) as JsonObject;
        const next = { ...current, status: patched.status } as JsonObject;
        if (patched.status === undefined) delete next.status;
        delete next.metadata.resourceVersion;
        return this.send(res, 200, this.store.update(next));
      }
      default:
        return this.send(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed on status`));
    }
  }

  private sendOr404(res: ServerResponse, body: object | undefined): void {
    if (body) this.send(res, 200, body);
    else this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  private selectorFor(type: ResourceType, url: URL): (o: JsonObject) => boolean {
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'), type.kind);
    return (o) => labels(o.metadata.labels ?? {}) && fields(o);
  }

  private sendList(res: ServerResponse, type: ResourceType, namespace: string | undefined, url: URL): void {
    const selected = this.selectorFor(type, url);
    const items = this.store.list(type.kind, namespace).filter(selected);
    this.send(res, 200, {
      kind: `${type.kind}List`,
      apiVersion: apiVersionOf(type),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    });
  }

  private watch(res: ServerResponse, type: ResourceType, namespace: string | undefined, url: URL): void {
    const selected = this.selectorFor(type, url);
    const inScope = (o: JsonObject): boolean => (!namespace || o.metadata.namespace === namespace) && selected(o);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const open: OpenWatch = { type, url: `${url.pathname}${url.search}`, res, stalled: false };
    const write = (type: string, object: unknown): void => {
      if (!open.stalled && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const expired = (message: string): void => {
      write('ERROR', status(410, 'Expired', message));
      res.end();
    };

    const expireRule = this.expireRules.find((r) => r.remaining > 0 && matches(r, 'GET', open.url));
    if (expireRule) {
      expireRule.remaining--;
      return expired('too old resource version (injected)');
    }
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    let replay: StoredEvent[];
    if (rvParam === '' || rvParam === '0') {
      // "Start at most recent" with the current state first, as synthetic ADDED events.
      replay = this.store
        .list(type.kind)
        .map((object) => ({ rv: Number(object.metadata.resourceVersion), type: 'ADDED' as const, kind: type.kind, object }));
    } else {
      const since = Number(rvParam);
      if (!Number.isInteger(since) || since < 0) {
        write('ERROR', status(400, 'BadRequest', `invalid resourceVersion "${rvParam}"`));
        return void res.end();
      }
      const events = this.store.eventsSince(since);
      if (!events) return expired(`too old resource version: ${since} (${this.store.compactedRevision})`);
      replay = events;
    }

    const deliver = (e: StoredEvent): void => {
      if (e.kind !== type.kind) return;
      const now = inScope(e.object);
      if (e.type !== 'MODIFIED') {
        if (now) write(e.type, e.object);
        return;
      }
      const before = e.previous ? inScope(e.previous) : false;
      if (now) write(before ? 'MODIFIED' : 'ADDED', e.object);
      else if (before) write('DELETED', e.object);
    };
    for (const e of replay) deliver(e);
    const unsubscribe = this.store.subscribe(deliver);
    this.watches.add(open);

    const timers: NodeJS.Timeout[] = [];
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      timers.push(
        setInterval(() => {
          write('BOOKMARK', {
            kind: type.kind,
            apiVersion: apiVersionOf(type),
            metadata: { resourceVersion: String(this.store.resourceVersion) },
          });
        }, this.bookmarkIntervalMs),
      );
    }
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), timeoutSeconds * 1000));
    res.on('close', () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.watches.delete(open);
    });
  }
}

const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('body is not an object');
  return parsed as Record<string, unknown>;
};
