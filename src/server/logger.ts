// JSON logs on stdout, one line per admission, buffered: a write(2) per line
// through libuv's thread pool cost more than the admission itself at a steady
// 200 req/s (docs/performance.md). Lines collect in memory and go out when
// LOG_BUFFER.flushBytes have gathered or LOG_BUFFER.flushMs after the first of
// them, whichever comes first; an idle webhook writes nothing. On exit
// (SIGTERM's graceful shutdown, a second signal) the webhook waits for the
// lines to be written (`flushed`), so the last lines before exit are not lost;
// on a crash pino writes what is left synchronously, and a write then still
// queued in the thread pool (up to flushBytes) may land after it or not at
// all; SIGKILL can lose up to flushMs of lines.
import pino, { type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_BUFFER = {
  /** Write once this much is buffered (must stay below writeBytes). */
  flushBytes: 3 * 1024,
  /**
   * Largest single write. Up to PIPE_BUF (4096 on Linux) a write to a pipe is
   * atomic, so lines from several processes sharing the container's stdout
   * (cluster workers) never interleave mid-line.
   */
  writeBytes: 4096,
  /** A quiet webhook's lines still appear within this time. */
  flushMs: 250,
  /** A stdout that stops draining drops lines past this, rather than growing memory without bound. */
  maxBufferedBytes: 16 * 1024 * 1024,
} as const;

/**
 * pino's `isoTime` field, `,"time":"2026-12-02T04:42:20.123Z"`, byte for byte,
 * with the part up to the second formatted once a second: Date#toISOString
 * costs 1-3 µs, paid on every admission line (docs/performance.md).
 */
export function isoTimeField(now: () => number = Date.now): () => string {
  let second = NaN;
  let head = '';
  return () => {
    const ms = now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      head = `,"time":"${new Date(s * 1000).toISOString().slice(0, -4)}`;
    }
    return `${head}${String(ms - s * 1000).padStart(3, '0')}Z"`;
  };
}

export function createLogger(level: LogLevel = 'info', dest: number | string = 1): Logger {
  const stream = pino.destination({
    dest,
    sync: false,
    minLength: LOG_BUFFER.flushBytes,
    maxWrite: LOG_BUFFER.writeBytes,
    maxLength: LOG_BUFFER.maxBufferedBytes,
  });
  return pino({ level, base: { component: 'ws-drain-webhook' }, timestamp: isoTimeField() }, flushedWithin(stream, LOG_BUFFER.flushMs));
}

/**
 * Lines written to `stream` go out within `ms`: the first line after a quiet
 * spell schedules one flush. sonic-boom's own periodicFlush flushes on a fixed
 * interval even with nothing buffered, an empty write(2) through libuv's
 * thread pool four times a second on an idle webhook.
 *
 * Lines are handed to sonic-boom a batch (up to LOG_BUFFER.flushBytes) at a
 * time: it appends each string to its last one and measures that in bytes,
 * which copies the whole growing buffer once per line (~1.6 KB of heap per
 * admission line at 250-byte lines); one join per batch copies it once.
 * Every way out of the buffer (flush, flushSync on exit, end) hands the
 * batch over first, so batching loses nothing sonic-boom would have kept.
 */
function flushedWithin(stream: ReturnType<typeof pino.destination>, ms: number): ReturnType<typeof pino.destination> {
  const write = stream.write.bind(stream);
  const flush = stream.flush.bind(stream);
  const flushSync = stream.flushSync.bind(stream);
  const end = stream.end.bind(stream);
  let batch: string[] = [];
  let batchBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const handOver = (): boolean => {
    if (batch.length === 0) return true;
    const lines = batch.length === 1 ? batch[0]! : batch.join('');
    batch = [];
    batchBytes = 0;
    return write(lines);
  };
  const flushLater = () => {
    timer = undefined;
    try {
      stream.flush();
    } catch {
      // Destroyed on exit: pino's final flush has already written what was left.
    }
  };
  stream.write = (line: string) => {
    timer ??= setTimeout(flushLater, ms).unref();
    const bytes = Buffer.byteLength(line);
    // A batch never grows past flushBytes but by a line longer than that alone (PIPE_BUF: writeBytes).
    const handed = batchBytes + bytes > LOG_BUFFER.flushBytes ? handOver() : true;
    batch.push(line);
    batchBytes += bytes;
    return batchBytes >= LOG_BUFFER.flushBytes ? handOver() : handed;
  };
  stream.flush = (cb?: (err?: Error) => void) => {
    handOver();
    flush(cb);
  };
  stream.flushSync = () => {
    handOver();
    flushSync();
  };
  stream.end = () => {
    handOver();
    end();
  };
  return stream;
}

/** How long an exit without waiting still waits for stdout to take the lines already logged. */
export const EXIT_FLUSH_MS = 2_000;

/**
 * Resolves once every line logged so far is written, or after `ms` if stdout
 * does not take them. Exits without waiting (a second signal, a worker told to
 * exit now) wait for this before process.exit: pino's flushSync on exit writes
 * what is buffered at once, ahead of a write still queued in libuv's thread
 * pool, which then lands after those lines or, if the process is gone first,
 * never. flush(cb) keeps the order: the write in flight first, then the rest.
 */
export function flushed(logger: Logger, ms = EXIT_FLUSH_MS): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Node's process warnings as JSON log lines instead of its plain-text stderr
 * lines, so everything the webhook prints parses as one JSON object per line.
 * Node 22+ reports dependencies' deprecations (client-node's punycode and
 * url.parse) for bundled code, which no longer sits under node_modules.
 * Replaces Node's own printer (the only default 'warning' listener).
 */
export function logProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => logger.warn({ warning: { name: w.name, code: w.code } }, w.message));
}
