// JSON logs on stdout. The destination is asynchronous (sonic-boom, not buffered
// beyond what is pending) so a log line per admission never blocks the event
// loop on a slow stdout, yet a quiet webhook's lines still appear at once.
import pino, { type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel = 'info', dest: number | string = 1): Logger {
  return pino(
    { level, base: { component: 'ws-drain-webhook' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest, sync: false }),
  );
}
