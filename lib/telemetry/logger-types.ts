/**
 * The logging surface every component takes: pino-compatible (fields object first, message second), so the real
 * logger is pino and tests pass `nullLogger` or a recording logger.
 */
export interface Logger {
  trace?(fields: object, msg?: string): void;
  debug(fields: object, msg?: string): void;
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
  error(fields: object, msg?: string): void;
}

const ignore = (): void => undefined;
export const nullLogger: Logger = { trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

export interface RecordedLine {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly msg: string | undefined;
}

/** A logger that keeps every line, for tests that assert what was logged. */
export const recordingLogger = (): Logger & { readonly lines: RecordedLine[] } => {
  const lines: RecordedLine[] = [];
  const at = (level: RecordedLine['level']) => (fields: object, msg?: string): void => {
    lines.push({ level, fields, msg });
  };
  return { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};
