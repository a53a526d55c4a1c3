// POST /validate: workload templates at `kubectl apply` time. The API server
// sends CREATE and UPDATE of Deployments, StatefulSets, DaemonSets,
// ReplicaSets, Jobs, CronJobs and Argo Rollouts (manifests/base/validating-webhook.yaml);
// the pod template is judged by the core exactly as its pods will be. The HTTP
// edge (limits, content type, metrics, logs) is the one /mutate uses.
import { boundedWarnings } from '../core/limits.js';
import type { WebhookConfig } from '../core/types.js';
import { z } from 'zod';
import { warning } from '../core/inject.js';
import { validateNamespace } from '../core/namespace-defaults.js';
import { validateWorkload } from '../core/validate-workload.js';
import {
  answerReview,
  bareNamespace,
  envelope,
  MAX_RESPONSE_BYTES,
  namespaceOf,
  podNameOf,
  type AdmissionResponseBody,
  type AdmissionResult,
  type AdmissionReviewRequest,
  type NamespaceLookup,
} from './admission.js';

/** group/resource of every workload whose pod template ws-drain judges. */
const WORKLOAD_RESOURCES: ReadonlySet<string> = new Set([
  'apps/deployments',
  'apps/statefulsets',
  'apps/daemonsets',
  'apps/replicasets',
  'batch/jobs',
  'batch/cronjobs',
  'argoproj.io/rollouts',
]);

/** One validation review; anything but a workload CREATE/UPDATE is allowed untouched. */
export function admitWorkload(review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup = bareNamespace): AdmissionResult {
  const request = review.request;
  const uid = request.uid;
  const namespace = namespaceOf(request);
  const podName = podNameOf(request);
  const dryRun = request.dryRun === true;
  if (isNamespaceChange(request)) return admitNamespace(review, config);
  const judged =
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    !request.subResource &&
    WORKLOAD_RESOURCES.has(`${request.resource.group}/${request.resource.resource}`);
  if (!judged) {
    return { uid, namespace, podName, dryRun, review: envelope({ uid, allowed: true }), outcome: 'passthrough', graceRaised: false };
  }
  const v = validateWorkload(request.object, request.operation === 'UPDATE' ? request.oldObject : undefined, namespaces(namespace), config);
  if (!v.allowed) {
    const status = { code: v.code, message: v.message, reason: v.code === 422 ? 'Invalid' : 'BadRequest' };
    return { uid, namespace, podName, dryRun, review: envelope({ uid, allowed: false, status }), outcome: 'denied', reason: v.message, graceRaised: false };
  }
  const response: AdmissionResponseBody = { uid, allowed: true };
  if (v.warnings.length > 0) response.warnings = boundedWarnings(v.warnings);
  return { uid, namespace, podName, dryRun, review: envelope(response), outcome: 'validated', reason: v.reason, graceRaised: false };
}

function isNamespaceChange(request: AdmissionReviewRequest['request']): boolean {
  return (request.operation === 'CREATE' || request.operation === 'UPDATE') && !request.subResource && request.resource.group === '' && request.resource.resource === 'namespaces';
}

const NamespaceObject = z.object({
  metadata: z.object({
    name: z.string(),
    labels: z.record(z.string(), z.string()).nullish(),
    annotations: z.record(z.string(), z.string()).nullish(),
  }),
});

/**
 * A Namespace applied with ws-drain/ annotations: a change that brings in a
 * value its pods would ignore is denied, so the namespace owner sees the typo
 * at `kubectl apply` / `kubectl annotate` instead of in every app team's warnings.
 */
function admitNamespace(review: AdmissionReviewRequest, config: WebhookConfig): AdmissionResult {
  const request = review.request;
  const uid = request.uid;
  const base = { uid, namespace: '', podName: request.name, dryRun: request.dryRun === true, graceRaised: false };
  const now = NamespaceObject.safeParse(request.object);
  if (!now.success) {
    return { ...base, review: envelope({ uid, allowed: true }), outcome: 'passthrough' };
  }
  const old = request.operation === 'UPDATE' ? NamespaceObject.safeParse(request.oldObject) : undefined;
  const v = validateNamespace(now.data.metadata, old?.success ? old.data.metadata : undefined, config);
  if (!v.allowed) {
    const status = { code: 422, message: v.message, reason: 'Invalid' };
    return { ...base, review: envelope({ uid, allowed: false, status }), outcome: 'denied', reason: v.message };
  }
  const response: AdmissionResponseBody = { uid, allowed: true };
  if (v.warnings.length > 0) response.warnings = boundedWarnings(v.warnings.map(warning));
  return { ...base, review: envelope(response), outcome: 'validated', reason: 'namespace' };
}

/** admitWorkload behind the same safety net as /mutate: total, and bounded in size. */
export function answerValidation(review: AdmissionReviewRequest, config: WebhookConfig, namespaces: NamespaceLookup = bareNamespace): { result: AdmissionResult; body: string } {
  return answerReview(review, config, MAX_RESPONSE_BYTES, admitWorkload, namespaces);
}
