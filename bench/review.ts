// The request every benchmark sends and the answer it must get back: a
// ReplicaSet creating an opted-in pod with three containers, answered by the
// same core the webhook runs (so a server that answers wrongly is caught).
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../src/server/admission.js';
import { admissionReview, optedInPod } from '../test/server/review-fixtures.js';

export function benchReview(): { body: string; uid: string; expected: string } {
  const body = JSON.stringify(admissionReview());
  const parsed = parseAdmissionReview(JSON.parse(body));
  if (!parsed.ok) throw new Error(parsed.error);
  return { body, uid: parsed.review.request.uid, expected: serializeReview(admit(parsed.review, DEFAULT_CONFIG).review) };
}

/**
 * `n` different pods, as the ReplicaSets of `n` Deployments would create them:
 * the bench's pod with its own name prefix, pod-template-hash, owner and image
 * tag (the same size, within a few bytes), each with the core's answer. What an
 * admission cache cannot help with: no two alike.
 */
export function benchDistinctReviews(n: number): { bodies: string[]; expected: string[] } {
  const bodies: string[] = [];
  const expected: string[] = [];
  for (let i = 0; i < n; i++) {
    const hash = (0x7d9f8b6c4 + i * 7919).toString(16).slice(-9);
    const pod = optedInPod();
    const meta = pod['metadata'] as { generateName: string; labels: Record<string, string>; ownerReferences: Array<{ name: string }> };
    meta.generateName = `chat-${hash}-`;
    meta.labels['pod-template-hash'] = hash;
    meta.ownerReferences[0]!.name = `chat-${hash}`;
    (pod['spec'] as { containers: Array<{ image: string }> }).containers[0]!.image = `registry.example.com/chat:1.4.${i}`;
    const body = JSON.stringify(admissionReview({ object: pod }));
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    bodies.push(body);
    expected.push(serializeReview(admit(parsed.review, DEFAULT_CONFIG).review));
  }
  return { bodies, expected };
}
