// `ws-drain inject`: the same decision for a Pod or for the pod template of a
// workload. The template is decided as if it were a pod, then put back.

import { decide } from './decide.js';
import type { Decision, WebhookConfig } from './types.js';

export type WorkloadDecision = { kind: 'passthrough' } | { kind: 'decided'; decision: Decision; doc: unknown };

/** Where each supported kind keeps its pod template. */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  'apps/v1 Deployment': ['spec', 'template'],
  'apps/v1 StatefulSet': ['spec', 'template'],
  'apps/v1 DaemonSet': ['spec', 'template'],
  'apps/v1 ReplicaSet': ['spec', 'template'],
  'batch/v1 Job': ['spec', 'template'],
  'batch/v1 CronJob': ['spec', 'jobTemplate', 'spec', 'template'],
};

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decideWorkload(doc: unknown, config: WebhookConfig): WorkloadDecision {
  if (!isObject(doc)) return { kind: 'passthrough' };
  const apiVersion = doc['apiVersion'];
  const kind = doc['kind'];
  const metadata = doc['metadata'];
  const rawNamespace = isObject(metadata) ? metadata['namespace'] : undefined;
  const namespace = typeof rawNamespace === 'string' && rawNamespace !== '' ? rawNamespace : 'default';

  if (apiVersion === 'v1' && kind === 'Pod') {
    const decision = decide(doc, namespace, config);
    return { kind: 'decided', decision, doc: decision.kind === 'mutate' ? decision.pod : doc };
  }

  const path = TEMPLATE_PATHS[`${String(apiVersion)} ${String(kind)}`];
  if (!path) return { kind: 'passthrough' };

  const template = getPath(doc, path);
  if (!isObject(template)) {
    return {
      kind: 'decided',
      decision: { kind: 'deny', code: 400, message: `${String(kind)} has no pod template at ${path.join('.')}` },
      doc,
    };
  }
  // Decide the template as a pod; the patch in the decision is relative to this pod view.
  const podView: JsonObject = { apiVersion: 'v1', kind: 'Pod', metadata: template['metadata'] ?? {}, spec: template['spec'] };
  const decision = decide(podView, namespace, config);
  if (decision.kind !== 'mutate' || !isObject(decision.pod)) return { kind: 'decided', decision, doc };

  const out = structuredClone(doc);
  const outTemplate = getPath(out, path) as JsonObject;
  outTemplate['metadata'] = decision.pod['metadata'];
  outTemplate['spec'] = decision.pod['spec'];
  return { kind: 'decided', decision, doc: out };
}

function getPath(root: JsonObject, path: readonly string[]): unknown {
  let at: unknown = root;
  for (const key of path) at = isObject(at) ? at[key] : undefined;
  return at;
}
