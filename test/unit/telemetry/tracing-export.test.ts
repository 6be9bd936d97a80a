/**
 * Sync traces end to end: the Daemon with NodeServices and a fake dataplane, tracing configured through the OTEL_*
 * environment, and a real HTTP server on loopback acting as the OTLP collector. The exporter sends OTLP/HTTP JSON,
 * so the collector decodes the bodies and the tests look at spans, attributes, parents and the resource.
 * Tests in this file share the process's global tracer provider: they run serially and unregister it afterwards.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag, trace } from '@opentelemetry/api';
import anyTest, { type TestFn } from 'ava';
import type { KubeObject } from '../../../lib/source/types.ts';
import { daemonWithNodeServices, upsert } from './daemon-harness.ts';
import { ep, serviceObject, sliceObject } from '../model/builders.ts';

interface OtlpValue {
  readonly stringValue?: string;
  readonly intValue?: number | string;
  readonly doubleValue?: number;
  readonly boolValue?: boolean;
}
interface OtlpAttribute {
  readonly key: string;
  readonly value: OtlpValue;
}
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: readonly OtlpAttribute[];
  readonly status?: { readonly code?: number; readonly message?: string };
}
interface OtlpRequest {
  readonly resourceSpans: readonly {
    readonly resource: { readonly attributes: readonly OtlpAttribute[] };
    readonly scopeSpans: readonly { readonly spans: readonly OtlpSpan[] }[];
  }[];
}

/** A minimal OTLP/HTTP collector: records every POST /v1/traces body with its content type. */
class Collector {
  readonly requests: { readonly path: string; readonly contentType: string; readonly body: string }[] = [];
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Every exported span with its resource's attributes. */
  spans(): { readonly span: OtlpSpan; readonly resource: readonly OtlpAttribute[] }[] {
    return this.requests.flatMap((r) =>
      (JSON.parse(r.body) as OtlpRequest).resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, resource: rs.resource.attributes }))),
      ),
    );
  }
}

const attr = (attributes: readonly OtlpAttribute[], key: string): string | number | boolean | undefined => {
  const value = attributes.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
};



const dns = serviceObject('dns', { clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
const dnsSlice = (ip: string): KubeObject => sliceObject('dns-1', 'dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [ep(ip)] });

/** Three syncs: the first (full), a partial one after an endpoint change, and one the dataplane fails. */
const runSyncs = async (h: Awaited<ReturnType<typeof daemonWithNodeServices>>): Promise<void> => {
  h.emit(upsert('Service', dns));
  h.emit(upsert('EndpointSlice', dnsSlice('10.244.1.5')));
  h.emit({ type: 'synced', kind: 'Service' });
  h.emit({ type: 'synced', kind: 'EndpointSlice' });
  await h.syncNow();
  h.emit(upsert('EndpointSlice', dnsSlice('10.244.1.6')));
  await h.syncNow();
  h.emit(upsert('EndpointSlice', dnsSlice('10.244.1.7')));
  h.dataplane.failNext = true;
  await h.syncNow();
};

const providerRegistered = (): boolean => trace.getTracer('probe').startSpan('probe').isRecording();

const test = anyTest as TestFn<{ collector: Collector; url: string }>;

test.beforeEach(async (t) => {
  const collector = new Collector();
  t.context = { collector, url: await collector.start() };
});

test.afterEach.always(async (t) => {
  trace.disable();
  diag.disable();
  await t.context.collector.stop();
});

// The exporter reads its endpoint from process.env; switchyard's on/off decision reads the env handed to it.
const configure = (url: string): void => {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
};

test.serial('without OTEL_* settings no provider is registered and nothing reaches the collector', async (t) => {
  configure(t.context.url);
  const h = await daemonWithNodeServices({});
  try {
    t.false(providerRegistered());
    await runSyncs(h);
    t.is(h.dataplane.syncs, 3);
  } finally {
    await h.stop();
  }
  t.deepEqual(t.context.collector.requests, []);
  t.false(h.logger.lines.some((l) => /OTLP/.test(l.msg ?? '')));
});

test.serial('OTEL_SDK_DISABLED=true wins over a configured endpoint', async (t) => {
  configure(t.context.url);
  const h = await daemonWithNodeServices({ OTEL_EXPORTER_OTLP_ENDPOINT: t.context.url, OTEL_SDK_DISABLED: 'true' });
  try {
    t.false(providerRegistered());
    await runSyncs(h);
  } finally {
    await h.stop();
  }
  t.deepEqual(t.context.collector.requests, []);
});

test.serial('with OTEL_EXPORTER_OTLP_ENDPOINT each sync is exported as a switchyard.sync trace, flushed on stop', async (t) => {
  configure(t.context.url);
  const h = await daemonWithNodeServices({ OTEL_EXPORTER_OTLP_ENDPOINT: t.context.url });
  try {
    t.true(providerRegistered());
    await runSyncs(h);
    // Batched: nothing has to be sent before stop; stop must flush everything.
  } finally {
    await h.stop();
  }
  t.false(providerRegistered(), 'stop unregisters the provider');
  const { requests } = t.context.collector;
  t.true(requests.length > 0);
  for (const request of requests) {
    t.is(request.path, '/v1/traces');
    t.regex(request.contentType, /^application\/json/);
  }
  const spans = t.context.collector.spans();
  const roots = spans.filter((s) => s.span.name === 'switchyard.sync').sort((a, b) => a.span.startTimeUnixNano.localeCompare(b.span.startTimeUnixNano));
  t.is(roots.length, 3);

  const [full, partial, failed] = roots.map((r) => r.span);
  const summary = (span: OtlpSpan | undefined) => ({
    kind: attr(span?.attributes ?? [], 'switchyard.sync.kind'),
    services: attr(span?.attributes ?? [], 'switchyard.sync.services'),
    changed: attr(span?.attributes ?? [], 'switchyard.sync.changed'),
    bytes: attr(span?.attributes ?? [], 'switchyard.sync.bytes'),
    mode: attr(span?.attributes ?? [], 'switchyard.dataplane.mode'),
    error: span?.status?.code === 2,
  });
  t.deepEqual(summary(full), { kind: 'full', services: 1, changed: 1, bytes: 321, mode: 'nftables', error: false });
  t.deepEqual(summary(partial), { kind: 'partial', services: 1, changed: 1, bytes: 321, mode: 'nftables', error: false });
  // The failed sync was a partial attempt; it has no dataplane result, hence no bytes.
  t.deepEqual(summary(failed), { kind: 'partial', services: 1, changed: 1, bytes: undefined, mode: 'nftables', error: true });
  t.regex(failed?.status?.message ?? '', /ERR_DATAPLANE_APPLY: injected/);
  t.true(typeof attr(full?.attributes ?? [], 'switchyard.sync.duration_ms') === 'number');

  // Children of the first sync: plan and dataplane under the root; compute then apply under the dataplane span.
  const inTrace = spans.map((s) => s.span).filter((s) => s.traceId === full?.traceId);
  const byName = new Map(inTrace.map((s) => [s.name, s]));
  t.deepEqual([...byName.keys()].sort(), [
    'switchyard.dataplane.apply', 'switchyard.dataplane.compute', 'switchyard.dataplane.sync', 'switchyard.plan', 'switchyard.sync',
  ]);
  t.is(byName.get('switchyard.plan')?.parentSpanId, full?.spanId);
  t.is(byName.get('switchyard.dataplane.sync')?.parentSpanId, full?.spanId);
  const dataplaneSpan = byName.get('switchyard.dataplane.sync');
  t.is(byName.get('switchyard.dataplane.compute')?.parentSpanId, dataplaneSpan?.spanId);
  t.is(byName.get('switchyard.dataplane.apply')?.parentSpanId, dataplaneSpan?.spanId);
  const compute = byName.get('switchyard.dataplane.compute');
  const apply = byName.get('switchyard.dataplane.apply');
  const nanos = (s: string | undefined) => BigInt(s ?? '0');
  t.is(nanos(compute?.endTimeUnixNano) - nanos(compute?.startTimeUnixNano), 2_000_000n);
  t.is(apply?.startTimeUnixNano, compute?.endTimeUnixNano);
  t.is(nanos(apply?.endTimeUnixNano) - nanos(apply?.startTimeUnixNano), 3_000_000n);

  // The failed sync's dataplane span carries the error too.
  const failedDataplane = spans.find((s) => s.span.name === 'switchyard.dataplane.sync' && s.span.parentSpanId === failed?.spanId);
  t.is(failedDataplane?.span.status?.code, 2);

  const resource = roots[0]?.resource ?? [];
  t.is(attr(resource, 'service.name'), 'switchyard');
  t.is(attr(resource, 'k8s.node.name'), 'node-a');
  t.is(typeof attr(resource, 'host.name'), 'string');
  t.true(h.logger.lines.some((l) => l.level === 'info' && /exporting OpenTelemetry traces over OTLP/.test(l.msg ?? '')));
});

test.serial('OTEL_SERVICE_NAME names the service; OTEL_TRACES_EXPORTER=otlp with a traces endpoint turns export on', async (t) => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${t.context.url}/v1/traces`;
  const env = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${t.context.url}/v1/traces`, OTEL_SERVICE_NAME: 'kp-node-a' };
  try {
    const h = await daemonWithNodeServices(env);
    try {
      await runSyncs(h);
    } finally {
      await h.stop();
    }
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  }
  const spans = t.context.collector.spans();
  t.is(spans.filter((s) => s.span.name === 'switchyard.sync').length, 3);
  t.true(spans.every((s) => attr(s.resource, 'service.name') === 'kp-node-a'));
});
