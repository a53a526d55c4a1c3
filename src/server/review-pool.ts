// Large reviews are answered on review threads (worker_threads), so that one
// of them never holds up the event loop that answers every other review: a
// 5,000-container review costs ~20 ms of CPU (docs/limits.md), and during
// those milliseconds nothing else would be admitted. Small reviews (nearly
// all of them) stay on the event loop, where they cost less than the trip to
// a thread would.
//
// Bounded: one job per thread at a time, the rest wait in a queue of at most
// maxPendingBytes of request bodies; past it a review is answered "busy"
// (mutate-handler.ts: 429 with Retry-After, which the API server's client
// retries). A thread that crashes or takes longer than jobTimeoutMs fails only
// its own review, with a clear error, and is replaced on the next job.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { WebhookConfig } from '../core/types.js';
import type { NamespaceLookup, ReviewIdentity } from './admission.js';
import type { Logger } from './logger.js';
import type { AdmissionRecord, Route } from './review-routes.js';
import type { FromThread, ThreadData, ToThread } from './review-thread.js';

/** Bodies above this go to a review thread (docs/limits.md has the figures behind it). */
export const OFFLOAD_MIN_BYTES = 64 * 1024;

export const REVIEW_POOL_DEFAULTS = {
  /** Review threads; each adds ~18 MB of RSS (measured: 72 → 90 MB after five 72 KiB reviews), started on the first large review. */
  threads: 1,
  /** Bodies queued or being answered: 4 of the largest reviews the webhook accepts (3 MiB). */
  maxPendingBytes: 12 * 1024 * 1024,
  /** Far above any review's work (~0.2 s for a 3 MiB body): only a bug or a starved machine takes this long. */
  jobTimeoutMs: 10_000,
  /**
   * A review thread's own heap limit: a review that needs more fails alone,
   * not the process. The largest body (3 MiB, 36,000 containers) needs under
   * 48 MB (bench: 32 fails, 48 answers); the Deployment's limit is 256 Mi.
   */
  resourceLimits: { maxOldGenerationSizeMb: 96 } as ResourceLimits,
};

export type Offloaded =
  | { kind: 'answer'; body: Buffer; record: AdmissionRecord }
  /** Not JSON or not an AdmissionReview: the 400 text, as on the event loop. */
  | { kind: 'invalid'; error: string }
  /** The queue is full or the pool is closing. */
  | { kind: 'busy'; error: string }
  /** The thread crashed or timed out; `identity` once the review had been parsed. */
  | { kind: 'failed'; error: string; identity: ReviewIdentity | undefined };

export interface ReviewPoolOptions {
  config: WebhookConfig;
  namespaces: NamespaceLookup;
  logger: Logger;
  threads?: number;
  maxPendingBytes?: number;
  jobTimeoutMs?: number;
  resourceLimits?: ResourceLimits;
  /** Reports each job's end (metrics). */
  onDone?: (kind: Offloaded['kind'], cause?: 'crashed' | 'timed-out') => void;
  /** The thread's entry module (tests substitute one); default review-thread-entry's compiled or bundled sibling. */
  entry?: URL;
}

export interface ReviewPool {
  submit(route: Route, body: Uint8Array): Promise<Offloaded>;
  /** Jobs queued or running. */
  pending(): number;
  /** Waits for every queued and running job, then stops the threads; later submissions are answered busy. */
  close(): Promise<void>;
}

interface Job {
  id: number;
  route: Route;
  body: Uint8Array | undefined;
  size: number;
  resolve: (o: Offloaded) => void;
  identity?: ReviewIdentity;
  timer?: NodeJS.Timeout;
}

interface Thread {
  worker: Worker;
  job: Job | undefined;
  /** Started: its module loaded and listening (loading takes a second on a busy machine, and is not the job's time). */
  ready: boolean;
}

/** A thread that has not started after this long is taken for broken. */
const START_TIMEOUT_MS = 30_000;

/**
 * The thread's entry: review-thread-entry.js beside this file (dist/server),
 * review-thread-entry.cjs beside the bundle's CommonJS script (dist/bundle,
 * whose import.meta.url is the script's: scripts/bundle.ts); from TypeScript
 * sources (tsx, vitest) the .ts file through tsx's loader, which a worker does not inherit.
 */
function startThread(entry: URL | undefined, data: ThreadData, resourceLimits: ResourceLimits): Worker {
  const here = import.meta.url;
  if (entry === undefined && !here.endsWith('.ts')) return new Worker(new URL(here.endsWith('.cjs') ? './review-thread-entry.cjs' : './review-thread-entry.js', here), { workerData: data, resourceLimits });
  const target = entry ?? new URL('./review-thread-entry.ts', here);
  if (!target.pathname.endsWith('.ts')) return new Worker(target, { workerData: data, resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); });`;
  return new Worker(code, { eval: true, workerData: data, resourceLimits });
}

/** An ArrayBuffer holding exactly `body`, to transfer (a Buffer may be a slice of a larger one). */
function ownBytes(body: Uint8Array): Uint8Array {
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice();
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

export function createReviewPool(opts: ReviewPoolOptions): ReviewPool {
  const size = Math.max(1, opts.threads ?? REVIEW_POOL_DEFAULTS.threads);
  const maxPendingBytes = opts.maxPendingBytes ?? REVIEW_POOL_DEFAULTS.maxPendingBytes;
  const jobTimeoutMs = opts.jobTimeoutMs ?? REVIEW_POOL_DEFAULTS.jobTimeoutMs;
  const resourceLimits = opts.resourceLimits ?? REVIEW_POOL_DEFAULTS.resourceLimits;
  const data: ThreadData = { config: opts.config };
  const { logger } = opts;
  const threads: Array<Thread | undefined> = new Array<Thread | undefined>(size).fill(undefined);
  const queue: Job[] = [];
  let pendingBytes = 0;
  let running = 0;
  let nextId = 1;
  let closed = false;
  const drained: Array<() => void> = [];

  function finish(thread: Thread, job: Job, outcome: Offloaded, cause?: 'crashed' | 'timed-out'): void {
    clearTimeout(job.timer);
    thread.job = undefined;
    running -= 1;
    pendingBytes -= job.size;
    opts.onDone?.(outcome.kind, cause);
    job.resolve(outcome);
    pump();
    if (running === 0 && queue.length === 0) for (const done of drained.splice(0)) done();
  }

  /** The thread is not trusted with another job: its job fails, the thread is stopped and replaced on demand. */
  function fail(index: number, thread: Thread, why: string, cause: 'crashed' | 'timed-out'): void {
    if (threads[index] === thread) threads[index] = undefined;
    void thread.worker.terminate();
    const job = thread.job;
    if (job === undefined) return;
    logger.error({ uid: job.identity?.uid, bytes: job.size, error: why }, 'review thread failed');
    finish(thread, job, { kind: 'failed', error: why, identity: job.identity }, cause);
  }

  function spawn(index: number): Thread {
    const worker = startThread(opts.entry, data, resourceLimits);
    const thread: Thread = { worker, job: undefined, ready: false };
    // The server's sockets keep the process alive while there is work; an idle thread must not.
    worker.unref();
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        thread.ready = true;
        if (thread.job !== undefined) startClock(index, thread, thread.job);
        return;
      }
      const job = thread.job;
      if (job === undefined || m.id !== job.id) return;
      if (m.type === 'parsed') {
        job.identity = m.identity;
        worker.postMessage({ type: 'namespace', id: job.id, view: opts.namespaces(m.identity.namespace) } satisfies ToThread);
      } else if (m.type === 'invalid') {
        finish(thread, job, { kind: 'invalid', error: m.error });
      } else {
        finish(thread, job, { kind: 'answer', body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), record: m.record });
      }
    });
    worker.on('error', (err) => fail(index, thread, `the review thread failed: ${errorText(err)}`, 'crashed'));
    worker.on('exit', (code) => fail(index, thread, `the review thread exited (code ${code})`, 'crashed'));
    return thread;
  }

  function startClock(index: number, thread: Thread, job: Job): void {
    clearTimeout(job.timer);
    job.timer = setTimeout(() => fail(index, thread, `answering this review took longer than ${jobTimeoutMs} ms`, 'timed-out'), jobTimeoutMs);
  }

  function pump(): void {
    for (let i = 0; i < size && queue.length > 0; i++) {
      if (threads[i]?.job !== undefined) continue;
      const thread = (threads[i] ??= spawn(i));
      const job = queue.shift()!;
      const body = ownBytes(job.body!);
      job.body = undefined;
      thread.job = job;
      running += 1;
      if (thread.ready) startClock(i, thread, job);
      else job.timer = setTimeout(() => fail(i, thread, `the review thread did not start within ${START_TIMEOUT_MS} ms`, 'crashed'), START_TIMEOUT_MS);
      thread.worker.postMessage({ type: 'review', id: job.id, route: job.route, body } satisfies ToThread, [body.buffer as ArrayBuffer]);
    }
  }

  return {
    submit(route, body) {
      if (closed) return Promise.resolve({ kind: 'busy', error: 'ws-drain is shutting down: send this review to another replica' });
      if (pendingBytes + body.byteLength > maxPendingBytes) {
        opts.onDone?.('busy');
        return Promise.resolve({
          kind: 'busy',
          error: `ws-drain is busy: ${running + queue.length} large reviews (${(pendingBytes / 2 ** 20).toFixed(1)} MiB) are being answered; retry`,
        });
      }
      pendingBytes += body.byteLength;
      return new Promise<Offloaded>((resolve) => {
        queue.push({ id: nextId++, route, body, size: body.byteLength, resolve });
        pump();
      });
    },
    pending: () => running + queue.length,
    async close() {
      closed = true;
      if (running > 0 || queue.length > 0) await new Promise<void>((resolve) => drained.push(resolve));
      await Promise.all(threads.map((t) => t?.worker.terminate()));
      threads.fill(undefined);
    },
  };
}
