// JSON logs on stdout. The destination is asynchronous (buffered sonic-boom) so
// a log line per admission never blocks the event loop on a slow stdout.
import pino, { type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel = 'info', dest: number | string = 1): Logger {
  return pino(
    { level, base: { component: 'ws-drain-webhook' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest, sync: false, minLength: 4096 }),
  );
}
