// The request every benchmark sends and the answer it must get back: a
// ReplicaSet creating an opted-in pod with three containers, answered by the
// same core the webhook runs (so a server that answers wrongly is caught).
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../src/server/admission.js';
import { admissionReview } from '../test/server/review-fixtures.js';

export function benchReview(): { body: string; uid: string; expected: string } {
  const body = JSON.stringify(admissionReview());
  const parsed = parseAdmissionReview(JSON.parse(body));
  if (!parsed.ok) throw new Error(parsed.error);
  return { body, uid: parsed.review.request.uid, expected: serializeReview(admit(parsed.review, DEFAULT_CONFIG).review) };
}
