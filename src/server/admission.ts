// AdmissionReview v1 in, AdmissionReview v1 out. Pure: no I/O, no clock. All pod
// logic is in src/core; this file only validates the envelope and maps a
// Decision onto the AdmissionResponse fields.
import { z } from 'zod';
import { decide } from '../core/index.js';
import { compiledAfterUse } from '../core/pod-schema.js';
import { fixedJSON } from '../core/inject.js';
import type { PatchOperation } from '../core/patch.js';
import type { NamespaceView } from '../core/namespace-defaults.js';
import type { Decision, WebhookConfig } from '../core/types.js';
import type { AdmissionOutcome } from './metrics.js';

const groupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });
const groupVersionResource = z.object({ group: z.string(), version: z.string(), resource: z.string() });

/** The fields of an AdmissionReview v1 request that the webhook reads. Other fields are ignored. */
export const admissionReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string().min(1).max(256),
    kind: groupVersionKind,
    resource: groupVersionResource,
    subResource: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    operation: z.string(),
    object: z.unknown().optional(),
    /** The stored object, on UPDATE (read by /validate). */
    oldObject: z.unknown().optional(),
    dryRun: z.boolean().optional(),
  }),
});

export type AdmissionReviewRequest = z.infer<typeof admissionReviewSchema>;

/** Compiled once a process has checked COMPILE_AFTER_PODS reviews (pod-schema.ts). */
const envelopeSchema = compiledAfterUse(admissionReviewSchema);

/** RFC 4648 base64 text, as the AdmissionResponse's []byte patch is encoded; made only by toBase64(). */
export type Base64 = string & { readonly __encoding: 'base64' };

export function toBase64(text: string): Base64 {
  return Buffer.from(text).toString('base64') as Base64;
}

export interface AdmissionResponseBody {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: Base64;
  warnings?: string[];
  status?: { code: number; message: string; reason: string };
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponseBody;
}

/** What one admission did, for the log line and the metrics. Never contains the pod itself. */
export interface AdmissionResult {
  review: AdmissionReviewResponse;
  outcome: AdmissionOutcome;
  uid: string;
  namespace: string;
  podName: string | undefined;
  dryRun: boolean;
  /** Skip reason, denial message, or internal error text. */
  reason?: string;
  /** True when the patch raises terminationGracePeriodSeconds. */
  graceRaised: boolean;
}

/** The namespace of a review as the webhook last saw it (namespaces.ts); a bare name without one. */
export type NamespaceLookup = (name: string) => NamespaceView;

export const bareNamespace: NamespaceLookup = (name) => ({ name });

export type ParseResult = { ok: true; review: AdmissionReviewRequest } | { ok: false; error: string };

/** Validates a parsed JSON body as an AdmissionReview v1 request; the error names the first bad field. */
export function parseAdmissionReview(body: unknown): ParseResult {
  const r = envelopeSchema().safeParse(body);
  if (r.success) return { ok: true, review: r.data };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  return { ok: false, error: `not an AdmissionReview admission.k8s.io/v1 request: ${where}: ${issue?.message ?? 'invalid'}` };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** metadata.name, else generateName (pods from controllers only have the latter at admission). */
export function podNameOf(request: AdmissionReviewRequest['request']): string | undefined {
  if (request.name) return request.name;
  const meta = isRecord(request.object) ? request.object['metadata'] : undefined;
  if (!isRecord(meta)) return undefined;
  if (typeof meta['name'] === 'string') return meta['name'];
  if (typeof meta['generateName'] === 'string') return meta['generateName'];
  return undefined;
}

export function namespaceOf(request: AdmissionReviewRequest['request']): string {
  if (request.namespace) return request.namespace;
  const meta = isRecord(request.object) ? request.object['metadata'] : undefined;
  return isRecord(meta) && typeof meta['namespace'] === 'string' ? meta['namespace'] : '';
}

function isPodCreate(request: AdmissionReviewRequest['request']): boolean {
  return (
    request.operation === 'CREATE' &&
    request.resource.group === '' &&
    request.resource.resource === 'pods' &&
    !request.subResource
  );
}

const GRACE_PATH = '/spec/terminationGracePeriodSeconds';

export function envelope(response: AdmissionResponseBody): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

const REVIEW_HEAD = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":';

/**
 * JSON.stringify(review), byte for byte, without scanning the base64 patch
 * (kilobytes that never need escaping): a sixth of the time on a mutated pod.
 * Field order is the one responseFor() and admit() build.
 */
export function serializeReview(review: AdmissionReviewResponse): string {
  const r = review.response;
  let out = REVIEW_HEAD + JSON.stringify(r.uid) + (r.allowed ? ',"allowed":true' : ',"allowed":false');
  if (r.patchType !== undefined) out += ',"patchType":' + JSON.stringify(r.patchType);
  // The base64 alphabet never needs escaping in JSON (the Base64 type says it is base64).
  if (r.patch !== undefined) out += ',"patch":"' + r.patch + '"';
  if (r.warnings !== undefined) out += ',"warnings":' + JSON.stringify(r.warnings);
  if (r.status !== undefined) out += ',"status":' + JSON.stringify(r.status);
  return out + '}}';
}

/**
 * What follows the uid in serializeReview's text (which writes the uid
 * first): the part of an answer two reviews that differ only in their uid
 * share (answer-memo.ts). undefined if `body` is not such an answer for `uid`.
 */
export function answerAfterUid(body: string, uid: string): string | undefined {
  const head = REVIEW_HEAD + JSON.stringify(uid);
  return body.startsWith(head) ? body.slice(head.length) : undefined;
}

/** serializeReview's text of the answer whose text after the uid is `after` (answerAfterUid), for `uid`. */
export function answerWithUid(uid: string, after: string): string {
  return REVIEW_HEAD + JSON.stringify(uid) + after;
}

/**
 * JSON.stringify(patch), byte for byte, but the injected objects that depend
 * only on the config (the init container, the helper's volume and mounts) are
 * written from their JSON made once (inject.ts fixedJSON): they were almost
 * half of the patch's JSON.stringify instructions. Their operations are
 * appendItem's { op, path, value }.
 */
export function patchJSON(patch: readonly PatchOperation[]): string {
  let out = '[';
  for (let i = 0; i < patch.length; i++) {
    const op = patch[i]!;
    if (i > 0) out += ',';
    const value = fixedJSON(op.value);
    out += value === undefined ? JSON.stringify(op) : `{"op":${JSON.stringify(op.op)},"path":${JSON.stringify(op.path)},"value":${value}}`;
  }
  return out + ']';
}

/** Maps a core Decision onto an AdmissionResponse. */
export function responseFor(uid: string, decision: Decision): { response: AdmissionResponseBody; outcome: AdmissionOutcome; reason?: string } {
  switch (decision.kind) {
    case 'mutate': {
      const response: AdmissionResponseBody = {
        uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: toBase64(patchJSON(decision.patch)),
      };
      if (decision.warnings.length > 0) response.warnings = decision.warnings;
      return { response, outcome: 'mutated' };
    }
    case 'skip': {
      const response: AdmissionResponseBody = { uid, allowed: true };
      if (decision.warnings.length > 0) response.warnings = decision.warnings;
      return { response, outcome: 'skipped', reason: decision.reason };
    }
    case 'deny':
      return {
        response: {
          uid,
          allowed: false,
          status: { code: decision.code, message: decision.message, reason: decision.code === 422 ? 'Invalid' : 'BadRequest' },
        },
        outcome: 'denied',
        reason: decision.message,
      };
  }
}

/**
 * Answers one validated AdmissionReview. Only Pod CREATE reaches the core;
 * everything else is allowed unchanged. dryRun requests get exactly the same
 * answer: the webhook has no side effects beyond logs and metrics.
 */
export function admit(review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup = bareNamespace): AdmissionResult {
  const request = review.request;
  const uid = request.uid;
  const namespace = namespaceOf(request);
  const podName = podNameOf(request);
  const dryRun = request.dryRun === true;
  // Literals rather than spreading a shared base: object spread is a measurable cost on this path.
  if (!isPodCreate(request)) {
    return { uid, namespace, podName, dryRun, review: envelope({ uid, allowed: true }), outcome: 'passthrough', graceRaised: false };
  }
  let decision: Decision;
  try {
    decision = decide(request.object, namespaces(namespace), config);
  } catch (err) {
    // decide() is total by contract; if a bug breaks that, refuse the pod rather
    // than admit it silently without the drain it asked for.
    return refusal(review, 500, 'InternalError', `ws-drain webhook internal error: ${errorText(err)}`, 'error');
  }
  const { response, outcome, reason } = responseFor(uid, decision);
  const graceRaised = decision.kind === 'mutate' && decision.patch.some((op) => op.path === GRACE_PATH);
  return { uid, namespace, podName, dryRun, review: envelope(response), outcome, reason, graceRaised };
}

/**
 * Largest answer the webhook sends (docs/limits.md). The core keeps its patch,
 * messages and warnings well below it; this is the safety net behind them.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** How the denial of an answer over MAX_RESPONSE_BYTES begins (answer-memo.ts keeps no such answer: its verdict also depends on the uid's length). */
export const OVERSIZE_DENIAL_PREFIX = 'ws-drain: the answer for this pod would be ';

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Who a review is about: enough to answer it (uid) and to log it, without the object. */
export interface ReviewIdentity {
  uid: string;
  namespace: string;
  podName: string | undefined;
  dryRun: boolean;
}

export function identityOf(review: AdmissionReviewRequest): ReviewIdentity {
  const request = review.request;
  return { uid: request.uid, namespace: namespaceOf(request), podName: podNameOf(request), dryRun: request.dryRun === true };
}

/** A denial for this review that never depends on the pod: it cannot fail or grow. */
function refusal(review: AdmissionReviewRequest | ReviewIdentity, code: number, reason: string, message: string, outcome: AdmissionOutcome): AdmissionResult {
  const who = 'request' in review ? identityOf(review) : review;
  const uid = who.uid;
  return {
    ...who,
    review: envelope({ uid, allowed: false, status: { code, message, reason } }),
    outcome,
    reason: message,
    graceRaised: false,
  };
}

/**
 * The answer to a review whose answering failed outside admit() (the review
 * thread crashed or ran out of time): the same 500 InternalError denial an
 * error inside admit() gets.
 */
export function internalErrorAnswer(who: ReviewIdentity, message: string): { result: AdmissionResult; body: string } {
  const result = refusal(who, 500, 'InternalError', `ws-drain webhook internal error: ${message}`, 'error');
  return { result, body: serializeReview(result.review) };
}

/**
 * admit() and its serialisation, total and bounded: whatever goes wrong in
 * either (a bug, a string past V8's limit) or an answer over
 * MAX_RESPONSE_BYTES becomes a clear denial of this pod, never a crash.
 */
export function answerReview(
  review: AdmissionReviewRequest,
  config: WebhookConfig,
  maxBytes: number = MAX_RESPONSE_BYTES,
  decideReview: (review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup) => AdmissionResult = admit,
  namespaces: NamespaceLookup = bareNamespace,
): { result: AdmissionResult; body: string } {
  let result: AdmissionResult;
  let body: string;
  try {
    result = decideReview(review, config, namespaces);
    body = serializeReview(result.review);
  } catch (err) {
    result = refusal(review, 500, 'InternalError', `ws-drain webhook internal error: ${errorText(err)}`, 'error');
    return { result, body: serializeReview(result.review) };
  }
  // Answers are ASCII but for user text in messages and warnings: length is exact or an undercount by at most 3x.
  if (body.length * 3 > maxBytes && Buffer.byteLength(body) > maxBytes) {
    const message =
      `${OVERSIZE_DENIAL_PREFIX}${Buffer.byteLength(body)} bytes, over the webhook's limit of ` +
      `${maxBytes} bytes (docs/limits.md); name fewer ports in ws-drain/ports or fewer containers in ws-drain/containers`;
    result = refusal(review, 422, 'Invalid', message, 'denied');
    body = serializeReview(result.review);
  }
  return { result, body };
}
