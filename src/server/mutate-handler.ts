// POST /mutate on plain Node request/response objects. This is the hot path, so
// it skips the framework: no router, no body-parser, no prototype swapping; one
// buffer concat, one JSON.parse, one zod pass, one serialisation per request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookConfig } from '../core/types.js';
import { answerReview, bareNamespace, parseAdmissionReview, type AdmissionResult, type AdmissionReviewRequest, type NamespaceLookup } from './admission.js';
import type { Logger } from './logger.js';
import type { Counter, Histogram } from 'prom-client';
import type { AdmissionOutcome, WebhookMetrics } from './metrics.js';

/** Kubernetes objects are at most ~1.5 MiB in etcd; anything larger is not a real AdmissionReview. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;
const JSON_UTF8 = 'application/json; charset=utf-8';

export interface MutateDeps {
  config: WebhookConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Namespace labels and annotations from the informer's cache (namespaces.ts); bare names without one. */
  namespaces?: NamespaceLookup;
}

export function reply(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  // Flat [name, value, ...] headers: no per-request object for Node to walk.
  res.writeHead(status, ['content-type', JSON_UTF8, 'content-length', String(Buffer.byteLength(body))]);
  res.end(body);
}

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

/**
 * `answerFn` turns a parsed review into the answer: the pod mutation by
 * default; /validate passes its own, and shares everything else here.
 */
export function createMutateHandler(
  deps: MutateDeps,
  answerFn: (review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup) => { result: AdmissionResult; body: string } = (review, config, namespaces) =>
    answerReview(review, config, undefined, undefined, namespaces),
): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, logger, metrics } = deps;
  const namespaces = deps.namespaces ?? bareNamespace;
  const byOutcome = outcomeChildren(metrics);

  // The unread rest of a refused body is discarded by Node after the response
  // (bounded by the server's requestTimeout), so the client sees the answer
  // rather than a connection reset.
  function refuse(res: ServerResponse, status: number, error: string): void {
    byOutcome('error').requests.inc();
    logger.warn({ status, error }, 'rejected admission request');
    reply(res, status, JSON.stringify({ error }));
  }

  function record(result: AdmissionResult, seconds: number): void {
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

  function answer(res: ServerResponse, raw: Buffer): void {
    const started = process.hrtime.bigint();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      refuse(res, 400, 'request body is not valid JSON');
      return;
    }
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      refuse(res, 400, parsed.error);
      return;
    }
    const { result, body: answer } = answerFn(parsed.review, config, namespaces);
    reply(res, 200, answer);
    record(result, Number(process.hrtime.bigint() - started) / 1e9);
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
