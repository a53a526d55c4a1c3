// The two review routes, body bytes to answer: POST /mutate (pods) and
// POST /validate (workload templates, namespaces). One path, whether a review
// is answered on the event loop (mutate-handler.ts) or on a review thread
// (review-pool.ts, review-thread.ts): the same parse, the same core, the same bytes.
import type { WebhookConfig } from '../core/types.js';
import { answerReview, parseAdmissionReview, type AdmissionResult, type AdmissionReviewRequest, type NamespaceLookup } from './admission.js';
import { answerValidation } from './validate.js';

export type Route = 'mutate' | 'validate';

/** What one admission did, for the log line and the metrics: the result without the answer it was serialised into. */
export type AdmissionRecord = Omit<AdmissionResult, 'review'>;

export type ParsedBody = { ok: true; review: AdmissionReviewRequest } | { ok: false; error: string };

/** JSON, then the AdmissionReview envelope; the error is the 400 answer's text. */
export function parseReviewBody(raw: Uint8Array): ParsedBody {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    return { ok: false, error: 'request body is not valid JSON' };
  }
  return parseAdmissionReview(body);
}

/** The answer to a validated review on `route`; total and bounded (answerReview). */
export function answerParsed(route: Route, review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup): { result: AdmissionResult; body: string } {
  return route === 'mutate' ? answerReview(review, config, undefined, undefined, namespaces) : answerValidation(review, config, namespaces);
}

export function recordOf(result: AdmissionResult): AdmissionRecord {
  const { review: _answered, ...record } = result;
  return record;
}
