// POST /mutate on plain Node request/response objects. This is the hot path, so
// it skips the framework: no router, no body-parser, no prototype swapping; one
// buffer concat, one JSON.parse, one zod pass, one serialisation per request.
// Bodies over OFFLOAD_MIN_BYTES are answered the same way on a review thread
// (review-pool.ts), so a large review never holds up the small ones.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookConfig } from '../core/types.js';
import { bareNamespace, internalErrorAnswer, type NamespaceLookup } from './admission.js';
import type { Logger } from './logger.js';
import type { Counter, Histogram } from 'prom-client';
import type { AdmissionOutcome, WebhookMetrics } from './metrics.js';
import type { AnswerMemo, MemoAnswer } from './answer-memo.js';
import { OFFLOAD_MIN_BYTES, type Offloaded, type ReviewPool } from './review-pool.js';
import { answerParsed, parseReviewBody, type AdmissionRecord, type Route } from './review-routes.js';

/** Kubernetes objects are at most ~1.5 MiB in etcd; anything larger is not a real AdmissionReview. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reviews answered in one batch (answerBatch) at most: bounds the answers held before they are written. */
export const MAX_BATCH = 64;

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;
const JSON_UTF8 = 'application/json; charset=utf-8';

export interface MutateDeps {
  config: WebhookConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Namespace labels and annotations from the informer's cache (namespaces.ts); bare names without one. */
  namespaces?: NamespaceLookup;
  /** Review threads for bodies over OFFLOAD_MIN_BYTES (review-pool.ts); without, every review is answered here. */
  reviews?: ReviewPool;
  /** Answers of /mutate kept for identical pods (answer-memo.ts, made with this `config`); without, each is computed. */
  answers?: AnswerMemo;
}

/** `byteLength`: the body's length when the caller knows it (counting a string flattens it: a copy on the heap). */
export function reply(res: ServerResponse, status: number, body: string | Uint8Array, extraHeaders: readonly string[] = [], byteLength?: number): void {
  if (res.headersSent) return;
  // Flat [name, value, ...] headers: no per-request object for Node to walk.
  const length = String(byteLength ?? (typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
  res.writeHead(status, extraHeaders.length === 0 ? ['content-type', JSON_UTF8, 'content-length', length] : ['content-type', JSON_UTF8, 'content-length', length, ...extraHeaders]);
  res.end(body);
}

/**
 * What a busy webhook answers: the API server's client (client-go's rest
 * client) retries a 429 that carries Retry-After, within the webhook's
 * timeoutSeconds; if every try is busy, the call fails and the webhook's
 * failurePolicy decides, as for any other failed call (docs/limits.md).
 */
const BUSY_HEADERS = ['retry-after', '1'] as const;

/** prom-client hashes the label object on every inc()/observe(); a child per outcome, made on first use, does not. */
function outcomeChildren(metrics: WebhookMetrics): (outcome: AdmissionOutcome) => { requests: Counter.Internal; duration: Histogram.Internal<'outcome'> } {
  const cache = new Map<AdmissionOutcome, { requests: Counter.Internal; duration: Histogram.Internal<'outcome'> }>();
  return (outcome) => {
    let children = cache.get(outcome);
    if (children === undefined) {
      children = { requests: metrics.requests.labels(outcome), duration: metrics.duration.labels(outcome) };
      cache.set(outcome, children);
    }
    return children;
  };
}

/** `route` says which answer a review gets: the pod mutation, or /validate's judgement of a workload. */
export function createMutateHandler(deps: MutateDeps, route: Route = 'mutate'): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, logger, metrics } = deps;
  const namespaces = deps.namespaces ?? bareNamespace;
  const byOutcome = outcomeChildren(metrics);
  const memo = route === 'mutate' ? deps.answers : undefined;

  // The unread rest of a refused body is discarded by Node after the response
  // (bounded by the server's requestTimeout), so the client sees the answer
  // rather than a connection reset.
  function refuse(res: ServerResponse, status: number, error: string, headers?: readonly string[]): void {
    byOutcome('error').requests.inc();
    logger.warn({ status, error }, 'rejected admission request');
    reply(res, status, JSON.stringify({ error }), headers);
  }

  function record(result: AdmissionRecord, seconds: number): void {
    const children = byOutcome(result.outcome);
    children.requests.inc();
    children.duration.observe(seconds);
    if (!result.dryRun && result.outcome === 'mutated') {
      metrics.injections.inc();
      if (result.graceRaised) metrics.graceRaised.inc();
    }
    if (result.outcome === 'denied') metrics.countDenial(result.namespace);
    const line = {
      uid: result.uid,
      namespace: result.namespace,
      pod: result.podName,
      outcome: result.outcome,
      reason: result.reason,
      dryRun: result.dryRun || undefined,
      durationMs: Math.round(seconds * 1e6) / 1e3,
    };
    if (result.outcome === 'error') logger.error(line, 'admission');
    else logger.info(line, 'admission');
  }

  const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

  function answer(res: ServerResponse, raw: Buffer): void {
    const started = process.hrtime.bigint();
    if (deps.reviews !== undefined && raw.byteLength > OFFLOAD_MIN_BYTES) {
      deps.reviews
        .submit(route, raw)
        .then((o) => answerOffloaded(res, o, started))
        // Answering is total; should that ever break, this request fails, not the process.
        .catch((err: unknown) => refuse(res, 500, `ws-drain webhook internal error: ${String(err).slice(0, 200)}`));
      return;
    }
    waiting.push({ res, raw, started });
    if (waiting.length === 1) setImmediate(answerBatch);
  }

  // The reviews whose bodies ended in one turn of the event loop are answered
  // together after it: every answer computed, then every one written, then
  // logged. Run back to back, the core's code stays in the CPU's caches; run
  // between TLS reads and writes it is fetched again each time, ~40 µs a
  // computed review (docs/performance.md: a computed answer in the server).
  // A review waits at most for the others of its batch (MAX_BATCH); its
  // durationMs counts that wait.
  let waiting: Array<{ res: ServerResponse; raw: Buffer; started: bigint }> = [];
  function answerBatch(): void {
    const batch = waiting.length > MAX_BATCH ? waiting.splice(0, MAX_BATCH) : waiting;
    if (batch === waiting) waiting = [];
    else setImmediate(answerBatch);
    const answers: Array<{ res: ServerResponse; answered: Extract<MemoAnswer, { ok: true }>; started: bigint }> = [];
    for (const { res, raw, started } of batch) {
      const answered = compute(raw);
      if (answered.ok) answers.push({ res, answered, started });
      else refuse(res, 400, answered.error);
    }
    for (const { res, answered } of answers) reply(res, 200, answered.body, undefined, answered.bytes);
    for (const { answered, started } of answers) record(answered.result, seconds(started));
  }

  /** A body's answer or its 400: from the answer memo when there is one, else parsed and computed. */
  const compute: (raw: Buffer) => MemoAnswer =
    memo !== undefined
      ? (raw) => memo.answer(raw, namespaces)
      : (raw) => {
          const parsed = parseReviewBody(raw);
          return parsed.ok ? { ok: true, ...answerParsed(route, parsed.review, config, namespaces) } : parsed;
        };

  /** A review thread's outcome, answered as the event loop would have answered it. */
  function answerOffloaded(res: ServerResponse, o: Offloaded, started: bigint): void {
    switch (o.kind) {
      case 'answer':
        reply(res, 200, o.body);
        record(o.record, seconds(started));
        return;
      case 'invalid':
        return refuse(res, 400, o.error);
      case 'busy':
        return refuse(res, 429, o.error, BUSY_HEADERS);
      case 'failed': {
        // Parsed: the uid is known, so the review gets the denial an error inside admission gets.
        if (o.identity === undefined) return refuse(res, 500, `ws-drain webhook internal error: ${o.error}`);
        const { result, body } = internalErrorAnswer(o.identity, o.error);
        reply(res, 200, body);
        record(result, seconds(started));
      }
    }
  }

  return (req, res) => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      refuse(res, 405, `method ${req.method ?? ''} not allowed: POST an AdmissionReview`);
      req.resume();
      return;
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!JSON_CONTENT_TYPE.test(contentType)) {
      refuse(res, 415, `unsupported content-type ${JSON.stringify(contentType)}: expected application/json`);
      req.resume();
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      refuse(res, 415, `unsupported content-encoding ${JSON.stringify(encoding)}: send the body uncompressed`);
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      refuse(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Chunked bodies have no declared length: stop buffering at the limit.
        tooLarge = true;
        chunks.length = 0;
        refuse(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      answer(res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // A client that goes away mid-body: nothing to answer, nothing to clean up beyond the buffers.
    req.on('error', () => {
      chunks.length = 0;
    });
  };
}
