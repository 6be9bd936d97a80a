/**
 * Sync traces through the OpenTelemetry API. Without a registered TracerProvider the API is a no-op, which is the
 * default: no OTLP exporter package ships with switchyard, so OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_TRACES_EXPORTER
 * only produce a warning saying traces stay off. A host application (or a later build with an exporter installed)
 * can register a provider with `trace.setGlobalTracerProvider` and the spans below start flowing.
 */
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Logger } from './logger-types.ts';

const tracer = () => trace.getTracer('switchyard');

/** Runs `work` inside a span named `name`; the span records failure and always ends. */
export const withSpan = async <T>(name: string, attributes: Record<string, string | number | boolean>, work: (span: Span) => Promise<T>): Promise<T> =>
  tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (e) {
      span.recordException(e instanceof Error ? e : String(e));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      span.end();
    }
  });

/** Tells the operator when tracing was asked for but cannot be exported. Returns whether it was asked for. */
export const reportTracingConfig = (env: NodeJS.ProcessEnv, logger: Logger): boolean => {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (endpoint === undefined && (exporter === undefined || exporter === 'none')) return false;
  logger.warn(
    { endpoint, exporter },
    'OpenTelemetry tracing requested, but no OTLP trace exporter is bundled; sync spans stay no-op',
  );
  return true;
};
