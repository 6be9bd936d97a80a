/**
 * Every error switchyard raises on purpose carries a stable `code`, so logs, metrics and tests can match on it
 * instead of on message text.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_FLAG_INVALID'
  | 'ERR_OBJECT_INVALID'
  | 'ERR_MANIFEST_PARSE'
  | 'ERR_SOURCE_UNAVAILABLE'
  | 'ERR_DATAPLANE_APPLY'
  | 'ERR_DATAPLANE_UNSUPPORTED'
  | 'ERR_EXEC'
  | 'ERR_LEASE'
  | 'ERR_INGRESS'
  | 'ERR_BIND';

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SwitchyardError';
  }
}

export const isSwitchyardError = (e: unknown): e is SwitchyardError => e instanceof SwitchyardError;

/** A short one-line description of any thrown value, for log lines. */
export const describeError = (e: unknown): string =>
  e instanceof Error ? (isSwitchyardError(e) ? `${e.code}: ${e.message}` : e.message) : String(e);
