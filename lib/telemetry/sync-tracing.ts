/**
 * One trace per sync: a `switchyard.sync` root span with what the sync did (full/partial, services, changes, bytes,
 * duration, error status), and child spans `switchyard.plan` and `switchyard.dataplane.sync`, the latter with
 * `switchyard.dataplane.compute` and `switchyard.dataplane.apply` children rebuilt from the timings the dataplane
 * measured itself (it runs both phases in one call, so they are recorded after it returns, back to back from the
 * call's start).
 *
 * Parents are passed explicitly rather than through an active context: no async context manager is registered, and
 * none is needed for spans that all live in one function. Without a registered provider every span is a no-op.
 */
import { context, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { SyncOutcome } from '../daemon.ts';
import type { DataplaneMode, SyncResult } from '../dataplane/types.ts';
import { describeError } from '../errors.ts';

export const SYNC_SPAN = 'switchyard.sync';
export const PLAN_SPAN = 'switchyard.plan';
export const DATAPLANE_SPAN = 'switchyard.dataplane.sync';
export const COMPUTE_SPAN = 'switchyard.dataplane.compute';
export const APPLY_SPAN = 'switchyard.dataplane.apply';

const tracer = () => trace.getTracer('switchyard');
const epochMs = (): number => performance.timeOrigin + performance.now();

const fail = (span: Span, error: unknown): void => {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
};

export class SyncTrace {
  readonly #root: Span;
  readonly #parent: Context;
  readonly #requestedFull: boolean;
  #ended = false;

  /** `requestedFull`: the sync was asked to rewrite everything (what it was when no dataplane reports otherwise). */
  constructor(mode: DataplaneMode | 'none', requestedFull: boolean) {
    this.#requestedFull = requestedFull;
    this.#root = tracer().startSpan(SYNC_SPAN, { attributes: { 'switchyard.dataplane.mode': mode } });
    this.#parent = trace.setSpan(context.active(), this.#root);
  }

  /** Runs the planner inside a child span; a throw fails and ends the whole sync span (the sync is over). */
  plan<T>(work: () => T): T {
    const span = tracer().startSpan(PLAN_SPAN, {}, this.#parent);
    try {
      return work();
    } catch (e) {
      fail(span, e);
      this.#fail(e);
      throw e;
    } finally {
      span.end();
    }
  }

  /** Runs the dataplane write inside a child span, with compute/apply children from its own timings. */
  async dataplane(work: () => Promise<SyncResult>): Promise<SyncResult> {
    const startedAt = epochMs();
    const span = tracer().startSpan(DATAPLANE_SPAN, { startTime: startedAt }, this.#parent);
    try {
      const result = await work();
      span.setAttributes({ 'switchyard.sync.full': result.full, 'switchyard.sync.bytes': result.bytes });
      const inner = trace.setSpan(this.#parent, span);
      const computedAt = startedAt + result.computeMs;
      tracer().startSpan(COMPUTE_SPAN, { startTime: startedAt }, inner).end(computedAt);
      tracer().startSpan(APPLY_SPAN, { startTime: computedAt }, inner).end(computedAt + result.applyMs);
      return result;
    } catch (e) {
      fail(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  /** Ends the span of a sync that planned but wrote nothing (`reason`: why, e.g. standing by after a handover). */
  skipped(reason: string): void {
    if (this.#ended) return;
    this.#root.setAttribute('switchyard.sync.skipped', reason);
    this.#ended = true;
    this.#root.end();
  }

  /** Records the outcome on the sync span and ends it. */
  end(outcome: SyncOutcome): void {
    if (this.#ended) return;
    const result = outcome.dataplane;
    const full = result?.full ?? this.#requestedFull;
    this.#root.setAttributes({
      'switchyard.sync.kind': full ? 'full' : 'partial',
      'switchyard.sync.full': full,
      'switchyard.sync.services': outcome.desired.services.length,
      'switchyard.sync.changed': outcome.changed,
      'switchyard.sync.duration_ms': outcome.durationMs,
    });
    if (result !== undefined) {
      this.#root.setAttributes({ 'switchyard.sync.bytes': result.bytes, 'switchyard.sync.changed_services': result.changedServices });
    }
    if (outcome.error !== undefined) fail(this.#root, outcome.error);
    this.#ended = true;
    this.#root.end();
  }

  #fail(error: unknown): void {
    if (this.#ended) return;
    fail(this.#root, error);
    this.#ended = true;
    this.#root.end();
  }
}
