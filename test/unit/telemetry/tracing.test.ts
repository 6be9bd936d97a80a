/**
 * When the OTEL_* environment turns trace export on, and that shutdown never outlasts its budget even when the
 * collector does not answer.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag, trace } from '@opentelemetry/api';
import test from 'ava';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import { startTracing, tracingFromEnv, type TracingDecision } from '../../../lib/telemetry/tracing.ts';

const on = (endpoint: string, serviceName = 'switchyard', warnings: string[] = []): TracingDecision => ({ enabled: true, serviceName, endpoint, warnings });
const off = (warnings: string[] = []): TracingDecision => ({ enabled: false, warnings });

const cases: { readonly name: string; readonly env: NodeJS.ProcessEnv; readonly want: TracingDecision }[] = [
  { name: 'nothing set', env: {}, want: off() },
  { name: 'empty endpoint', env: { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, want: off() },
  { name: 'endpoint', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, want: on('http://collector:4318/v1/traces') },
  { name: 'endpoint with slash', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, want: on('http://collector:4318/v1/traces') },
  {
    name: 'traces endpoint used as is, over the generic one',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/otlp' },
    want: on('http://b:9999/otlp'),
  },
  { name: 'exporter otlp alone: default endpoint', env: { OTEL_TRACES_EXPORTER: 'otlp' }, want: on('http://localhost:4318/v1/traces') },
  { name: 'exporter none beats an endpoint', env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }, want: off() },
  {
    name: 'exporter console only: off, with a warning',
    env: { OTEL_TRACES_EXPORTER: 'console', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' },
    want: off(['OTEL_TRACES_EXPORTER console not supported (only otlp); ignored']),
  },
  {
    name: 'exporter list with otlp: on, the rest warned about',
    env: { OTEL_TRACES_EXPORTER: 'OTLP, zipkin' },
    want: on('http://localhost:4318/v1/traces', 'switchyard', ['OTEL_TRACES_EXPORTER zipkin not supported (only otlp); ignored']),
  },
  { name: 'SDK disabled', env: { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }, want: off() },
  { name: 'SDK disabled=false', env: { OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }, want: on('http://localhost:4318/v1/traces') },
  { name: 'service name', env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'kp' }, want: on('http://localhost:4318/v1/traces', 'kp') },
  { name: 'http/json', env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, want: on('http://localhost:4318/v1/traces') },
  {
    name: 'http/protobuf: sent as json, with a warning',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
    want: on('http://localhost:4318/v1/traces', 'switchyard', ['OTLP protocol http/protobuf is not supported; traces are sent as http/json']),
  },
  {
    name: 'grpc: off, with a warning',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' },
    want: off(['OTLP protocol grpc is not supported (only http/json); traces stay off']),
  },
];

for (const c of cases) {
  test(`tracingFromEnv: ${c.name}`, (t) => {
    t.deepEqual(tracingFromEnv(c.env), c.want);
  });
}

test.afterEach.always(() => {
  trace.disable();
  diag.disable();
});

test.serial('startTracing with tracing off registers nothing and logs the warnings', async (t) => {
  const logger = recordingLogger();
  const tracing = startTracing({ env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, logger });
  t.false(tracing.enabled);
  t.false(trace.getTracer('probe').startSpan('probe').isRecording());
  t.deepEqual(logger.lines.map((l) => [l.level, l.msg]), [['warn', 'OTLP protocol grpc is not supported (only http/json); traces stay off']]);
  await tracing.shutdown();
});

test.serial('shutdown gives up after its timeout when the collector never answers, and unregisters the provider', async (t) => {
  const held: ServerResponse[] = [];
  let received = 0;
  const server: Server = createServer((req, res) => {
    received++;
    req.resume();
    held.push(res); // never answered
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
  try {
    const logger = recordingLogger();
    const tracing = startTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: url }, logger, nodeName: 'n1' });
    t.true(tracing.enabled);
    const span = trace.getTracer('test').startSpan('switchyard.sync');
    t.true(span.isRecording());
    span.end();
    const started = performance.now();
    await tracing.shutdown(300);
    const took = performance.now() - started;
    t.true(took >= 250 && took < 1_000, `shutdown took ${took} ms`);
    t.is(received, 1, 'the flush did try to export');
    t.true(logger.lines.some((l) => l.level === 'warn' && /did not finish in time/.test(l.msg ?? '')));
    t.false(trace.getTracer('probe').startSpan('probe').isRecording());
    await tracing.shutdown(300); // idempotent
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
