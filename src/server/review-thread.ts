// A review thread (worker_threads): answers the large reviews review-pool.ts
// sends it, one at a time, so their JSON.parse, validation, core and
// serialisation run off the event loop that answers every other review.
// Protocol (review-pool.ts is the other side):
//   thread → pool  ready                         listening: a job's timeout starts now, not before start-up
//   pool → thread  review {id, route, body}      the request body's bytes, transferred
//   thread → pool  invalid {id, error}           not JSON / not an AdmissionReview: the 400 text
//   thread → pool  parsed {id, identity}         asks for the namespace as the event loop's cache has it
//   pool → thread  namespace {id, view}
//   thread → pool  answer {id, body, record}     the answer's bytes, transferred
import type { parentPort } from 'node:worker_threads';
import type { NamespaceView } from '../core/namespace-defaults.js';
import type { WebhookConfig } from '../core/types.js';
import { identityOf, type AdmissionReviewRequest, type ReviewIdentity } from './admission.js';
import { answerParsed, parseReviewBody, recordOf, type AdmissionRecord, type Route } from './review-routes.js';

export type ToThread = { type: 'review'; id: number; route: Route; body: Uint8Array } | { type: 'namespace'; id: number; view: NamespaceView };
export type FromThread =
  | { type: 'ready' }
  | { type: 'invalid'; id: number; error: string }
  | { type: 'parsed'; id: number; identity: ReviewIdentity }
  | { type: 'answer'; id: number; body: Uint8Array; record: AdmissionRecord };

export interface ThreadData {
  config: WebhookConfig;
}

const encoder = new TextEncoder();

/** Serves the pool on `port` (review-thread-entry.ts; a test thread wraps it). */
export function serveReviews(port: NonNullable<typeof parentPort>, data: ThreadData): void {
  let waiting: { id: number; route: Route; review: AdmissionReviewRequest } | undefined;
  const post = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  port.on('message', (m: ToThread) => {
    if (m.type === 'review') {
      const parsed = parseReviewBody(m.body);
      if (!parsed.ok) return post({ type: 'invalid', id: m.id, error: parsed.error });
      waiting = { id: m.id, route: m.route, review: parsed.review };
      return post({ type: 'parsed', id: m.id, identity: identityOf(parsed.review) });
    }
    if (waiting === undefined || waiting.id !== m.id) return;
    const { route, review } = waiting;
    waiting = undefined;
    const { result, body } = answerParsed(route, review, data.config, () => m.view);
    // Its own ArrayBuffer (Buffer.from may take a slice of a shared pool), so it can be transferred.
    const bytes = encoder.encode(body);
    post({ type: 'answer', id: m.id, body: bytes, record: recordOf(result) }, [bytes.buffer as ArrayBuffer]);
  });
  post({ type: 'ready' });
}
