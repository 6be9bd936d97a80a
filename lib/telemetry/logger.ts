/**
 * The real logger: pino, JSON lines on stderr (stdout stays free for command output such as `switchyard plan`).
 */
import { pino } from 'pino';
import type { LogLevel } from '../config/types.ts';
import type { Logger } from './logger-types.ts';

export const createLogger = (level: LogLevel, destination: number = 2): Logger =>
  pino({ level, base: { component: 'switchyard' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: destination, sync: false }));
