/**
 * OpenTelemetry traces, exported over OTLP/HTTP when the standard environment variables ask for it, off otherwise.
 *
 * On when OTEL_TRACES_EXPORTER lists `otlp`, or (with OTEL_TRACES_EXPORTER unset) when OTEL_EXPORTER_OTLP_ENDPOINT
 * or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
 * The bundled exporter (@opentelemetry/exporter-trace-otlp-http) speaks OTLP over HTTP with JSON bodies
 * (`application/json` POSTs to …/v1/traces) — OTLP collectors accept it on the same port as http/protobuf.
 * http/protobuf is therefore sent as http/json with a warning; grpc cannot be served and leaves tracing off.
 *
 * `env` decides whether tracing is on and the service name; the SDK pieces (exporter endpoint, headers, timeout,
 * batch processor, OTEL_RESOURCE_ATTRIBUTES) read process.env themselves, as the OpenTelemetry SDK always does.
 */
import { hostname } from 'node:os';
import { diag, DiagLogLevel, trace, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, hostDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describeError } from '../errors.ts';
import type { Logger } from './logger-types.ts';

export const DEFAULT_SERVICE_NAME = 'switchyard';
/** Shutdown comes after the ingress drain (3 s) inside SIGTERM's 5 s: the last flush gets what is left, at most this. */
export const TRACE_FLUSH_TIMEOUT_MS = 1_000;

export type TracingDecision =
  | { readonly enabled: false; readonly warnings: readonly string[] }
  | { readonly enabled: true; readonly serviceName: string; readonly endpoint: string; readonly warnings: readonly string[] };

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** Where the exporter will POST, following the same precedence the exporter applies. */
const tracesEndpoint = (env: NodeJS.ProcessEnv): string => {
  if (isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.trim();
  if (isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT)) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.trim().replace(/\/$/, '')}/v1/traces`;
  return 'http://localhost:4318/v1/traces';
};

/** Reads the standard OTEL_* variables: is trace export wanted, and can the bundled exporter serve it. */
export const tracingFromEnv = (env: NodeJS.ProcessEnv): TracingDecision => {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return { enabled: false, warnings: [] };
  const exporters = isSet(env.OTEL_TRACES_EXPORTER)
    ? env.OTEL_TRACES_EXPORTER.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '')
    : undefined;
  const warnings: string[] = [];
  if (exporters !== undefined) {
    if (exporters.includes('none')) return { enabled: false, warnings: [] };
    const unsupported = exporters.filter((name) => name !== 'otlp');
    if (unsupported.length > 0) warnings.push(`OTEL_TRACES_EXPORTER ${unsupported.join(', ')} not supported (only otlp); ignored`);
    if (!exporters.includes('otlp')) return { enabled: false, warnings };
  } else if (!isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT) && !isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) {
    return { enabled: false, warnings: [] };
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim().toLowerCase();
  if (protocol === 'grpc') {
    return { enabled: false, warnings: [...warnings, 'OTLP protocol grpc is not supported (only http/json); traces stay off'] };
  }
  if (isSet(protocol) && protocol !== 'http/json') {
    warnings.push(`OTLP protocol ${protocol} is not supported; traces are sent as http/json`);
  }
  const serviceName = isSet(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : DEFAULT_SERVICE_NAME;
  return { enabled: true, serviceName, endpoint: tracesEndpoint(env), warnings };
};

export interface Tracing {
  readonly enabled: boolean;
  /** Flushes spans still queued (bounded by `timeoutMs`) and unregisters the provider. Idempotent. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const disabled: Tracing = { enabled: false, shutdown: () => Promise.resolve() };

/** The SDK reports export failures through `diag`; they belong in the daemon's log. */
const diagToLogger = (logger: Logger): DiagLogger => {
  const line = (level: 'warn' | 'error' | 'debug') => (message: string, ...args: unknown[]): void => {
    const detail = args.map((arg) => (arg instanceof Error ? describeError(arg) : typeof arg === 'string' ? arg : JSON.stringify(arg)));
    logger[level]({ component: 'opentelemetry', detail }, `opentelemetry: ${message}`);
  };
  const debug = line('debug');
  return { error: line('error'), warn: line('warn'), info: debug, debug, verbose: debug };
};

export interface StartTracingOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Recorded as the `k8s.node.name` resource attribute. */
  readonly nodeName?: string;
}

/**
 * Registers the global tracer provider when the environment asks for OTLP traces; otherwise registers nothing and
 * the spans the daemon makes stay no-ops. Never throws: a provider that cannot be built is logged and left off.
 */
export const startTracing = (options: StartTracingOptions): Tracing => {
  const { env, logger } = options;
  const decision = tracingFromEnv(env);
  for (const warning of decision.warnings) logger.warn({ component: 'tracing' }, warning);
  if (!decision.enabled) return disabled;
  let provider: BasicTracerProvider;
  try {
    const resource = defaultResource()
      .merge(detectResources({ detectors: [hostDetector, envDetector] }))
      .merge(
        resourceFromAttributes({
          'service.name': decision.serviceName,
          'k8s.node.name': options.nodeName ?? hostname(),
        }),
      );
    provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  } catch (e) {
    logger.error({ err: describeError(e) }, `OpenTelemetry tracing could not start: ${describeError(e)}; traces stay off`);
    return disabled;
  }
  if (!trace.setGlobalTracerProvider(provider)) {
    logger.warn({ component: 'tracing' }, 'a global tracer provider is already registered; switchyard spans go to it');
    void provider.shutdown().catch(() => undefined);
    return disabled;
  }
  diag.setLogger(diagToLogger(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  logger.info({ endpoint: decision.endpoint, service: decision.serviceName, protocol: 'http/json' }, 'exporting OpenTelemetry traces over OTLP');
  let stopping: Promise<void> | undefined;
  const shutdown = async (timeoutMs: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([provider.shutdown().then(() => 'done' as const), timedOut]);
      if (result === 'timeout') logger.warn({ timeoutMs }, 'OpenTelemetry trace flush did not finish in time; unsent spans dropped');
    } catch (e) {
      logger.warn({ err: describeError(e) }, `OpenTelemetry trace flush failed: ${describeError(e)}`);
    } finally {
      clearTimeout(timer);
      trace.disable();
      diag.disable();
    }
  };
  return {
    enabled: true,
    shutdown: (timeoutMs = TRACE_FLUSH_TIMEOUT_MS) => (stopping ??= shutdown(timeoutMs)),
  };
};
