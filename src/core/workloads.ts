// `ws-drain inject`: the same decision for a Pod or for the pod template of a
// workload. The template is decided as if it were a pod, then put back. Also
// what a document gets wrong that would otherwise change nothing, silently:
// annotations on the workload instead of its template, labels instead of
// annotations, API versions no API server serves, kinds ws-drain never reads.

import { decide } from './decide.js';
import { namespaceView, type NamespaceView } from './namespace-defaults.js';
import { PREFIX, type Decision, type WebhookConfig } from './types.js';

export type WorkloadDecision = { kind: 'passthrough' } | { kind: 'decided'; decision: Decision; doc: unknown };

/** Where each supported kind keeps its pod template (a Namespace's annotations are defaults: namespace-defaults.ts). */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  'apps/v1 Deployment': ['spec', 'template'],
  'apps/v1 StatefulSet': ['spec', 'template'],
  'apps/v1 DaemonSet': ['spec', 'template'],
  'apps/v1 ReplicaSet': ['spec', 'template'],
  'batch/v1 Job': ['spec', 'template'],
  'batch/v1 CronJob': ['spec', 'jobTemplate', 'spec', 'template'],
  // Argo Rollouts: the webhook already sees its pods; offline injection must too.
  'argoproj.io/v1alpha1 Rollout': ['spec', 'template'],
};

/** The kinds above, for messages. */
const SUPPORTED = 'Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Argo Rollout';

/** Workload API versions Kubernetes no longer serves: kind → [replacement, removed in]. */
const REMOVED_VERSIONS: Record<string, Record<string, readonly [string, string]>> = {
  'extensions/v1beta1': { Deployment: ['apps/v1', '1.16'], DaemonSet: ['apps/v1', '1.16'], ReplicaSet: ['apps/v1', '1.16'] },
  'apps/v1beta1': { Deployment: ['apps/v1', '1.16'], StatefulSet: ['apps/v1', '1.16'] },
  'apps/v1beta2': { Deployment: ['apps/v1', '1.16'], StatefulSet: ['apps/v1', '1.16'], DaemonSet: ['apps/v1', '1.16'], ReplicaSet: ['apps/v1', '1.16'] },
  'batch/v1beta1': { CronJob: ['batch/v1', '1.25'] },
};

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The pod template of a supported workload kind, as it is in the document (undefined for other kinds). */
export function podTemplate(doc: unknown): unknown {
  if (!isObject(doc)) return undefined;
  const path = TEMPLATE_PATHS[`${String(doc['apiVersion'])} ${String(doc['kind'])}`];
  return path ? getPath(doc, path) : undefined;
}

/** The document's metadata.namespace, else "default", as kubectl would use. */
export function documentNamespace(doc: unknown): string {
  const metadata = isObject(doc) ? doc['metadata'] : undefined;
  const raw = isObject(metadata) ? metadata['namespace'] : undefined;
  return typeof raw === 'string' && raw !== '' ? raw : 'default';
}

/**
 * `namespaceOverride`: the namespace of an admission request, with its labels
 * and annotations when known; absent, the document's (documentNamespace) with none.
 */
export function decideWorkload(doc: unknown, config: WebhookConfig, namespaceOverride?: string | NamespaceView): WorkloadDecision {
  if (!isObject(doc)) return { kind: 'passthrough' };
  const apiVersion = doc['apiVersion'];
  const kind = doc['kind'];
  const given = namespaceOverride === undefined ? undefined : namespaceView(namespaceOverride);
  const namespace: NamespaceView = given && given.name !== '' ? given : { ...given, name: documentNamespace(doc) };

  if (apiVersion === 'v1' && kind === 'Pod') {
    const decision = decide(doc, namespace, config);
    return { kind: 'decided', decision, doc: decision.kind === 'mutate' ? decision.pod : doc };
  }

  const path = TEMPLATE_PATHS[`${String(apiVersion)} ${String(kind)}`];
  if (!path) return { kind: 'passthrough' };

  const template = getPath(doc, path);
  // A Rollout may borrow its template from a Deployment (workloadRef): nothing here to inject.
  if (kind === 'Rollout' && template === undefined && isObject(getPath(doc, ['spec', 'workloadRef']))) return { kind: 'passthrough' };
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

/** The ws-drain/ keys of an object's metadata.annotations (or labels). */
function wsDrainKeys(meta: unknown, field: 'annotations' | 'labels'): string[] {
  const map = isObject(meta) ? meta[field] : undefined;
  return isObject(map) ? Object.keys(map).filter((k) => k.startsWith(PREFIX)).sort() : [];
}

/**
 * What a document gets wrong that makes ws-drain change nothing without a
 * denial: one line each, naming the fix. Empty for a document that is fine or
 * has nothing to do with ws-drain.
 */
export function documentWarnings(doc: unknown): string[] {
  if (!isObject(doc)) return [];
  const apiVersion = String(doc['apiVersion']);
  const kind = String(doc['kind']);
  const meta = doc['metadata'];
  const path = TEMPLATE_PATHS[`${apiVersion} ${kind}`];
  const isPod = apiVersion === 'v1' && kind === 'Pod';
  // Where a pod-level annotation would go for this kind (for messages), and its metadata.
  // Same kind under another (removed) version: its template sits where apps/v1 / batch/v1 keep it.
  const sameKind = Object.entries(TEMPLATE_PATHS).find(([k]) => k.endsWith(` ${kind}`))?.[1];
  const templateAt = [...(path ?? sameKind ?? ['spec', 'template']), 'metadata'];
  const templateMeta = isPod ? meta : getPath(doc, templateAt);
  const own = wsDrainKeys(meta, 'annotations');
  const inTemplate = isPod ? own : wsDrainKeys(templateMeta, 'annotations');
  const warnings: string[] = [];

  const removed = REMOVED_VERSIONS[apiVersion]?.[kind];
  if (removed) {
    if (own.length > 0 || inTemplate.length > 0) {
      warnings.push(`${apiVersion} ${kind} is not served since Kubernetes ${removed[1]}; left unchanged: use apiVersion ${removed[0]}`);
    }
    return warnings;
  }
  if (!isPod && !path) {
    // A Namespace's ws-drain/ annotations are its pods' defaults (namespace-defaults.ts).
    if (apiVersion === 'v1' && kind === 'Namespace') return warnings;
    if (own.length > 0 || inTemplate.length > 0) {
      warnings.push(`${apiVersion} ${kind} has ws-drain/ annotations, but ws-drain reads them only on: ${SUPPORTED}; left unchanged`);
    }
    return warnings;
  }
  const borrowed = kind === 'Rollout' && getPath(doc, path ?? []) === undefined && isObject(getPath(doc, ['spec', 'workloadRef']));
  if (borrowed && own.length > 0) {
    warnings.push(`${own.join(', ')} on a Rollout with spec.workloadRef ${own.length === 1 ? 'is' : 'are'} not read: annotate the referenced Deployment's spec.template.metadata`);
  } else if (!isPod && own.length > 0) {
    warnings.push(
      `${own.join(', ')} on the ${kind} itself ${own.length === 1 ? 'is' : 'are'} not read: ` +
        `move ${own.length === 1 ? 'it' : 'them'} to ${templateAt.join('.')}.annotations`,
    );
  }
  const labels = [...new Set([...wsDrainKeys(meta, 'labels'), ...(isPod ? [] : wsDrainKeys(templateMeta, 'labels'))])].sort();
  if (labels.length > 0) {
    warnings.push(`${labels.join(', ')} ${labels.length === 1 ? 'is a label' : 'are labels'}: ws-drain reads annotations; move ${labels.length === 1 ? 'it' : 'them'} to ${isPod ? 'metadata' : templateAt.join('.')}.annotations`);
  }
  return warnings;
}

/** A `kind: List` (what `kubectl get -o yaml` prints) or any `*List` with items: its items, else undefined. */
export function listItems(doc: unknown): unknown[] | undefined {
  if (!isObject(doc)) return undefined;
  const kind = doc['kind'];
  const items = doc['items'];
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items) ? items : undefined;
}

/** One object of a document (the document itself, or an item of a List) and what became of it. */
export interface ObjectResult {
  /** Index in the List's items; absent for a plain document. */
  item?: number;
  object: unknown;
  result: WorkloadDecision;
  warnings: string[];
}

/**
 * A whole document: a Pod, a workload, anything else, or a List of those.
 * `doc` is the document to print: a new object when something was injected,
 * else the input itself.
 */
export function decideDocument(
  doc: unknown,
  config: WebhookConfig,
  namespaces: (name: string) => NamespaceView | undefined = () => undefined,
): { doc: unknown; changed: boolean; objects: ObjectResult[] } {
  const decideOne = (object: unknown): WorkloadDecision => {
    const name = documentNamespace(object);
    return decideWorkload(object, config, namespaces(name) ?? name);
  };
  const items = listItems(doc);
  if (!items) {
    const result = decideOne(doc);
    const changed = result.kind === 'decided' && result.decision.kind === 'mutate';
    return { doc: changed && result.kind === 'decided' ? result.doc : doc, changed, objects: [{ object: doc, result, warnings: documentWarnings(doc) }] };
  }
  const objects = items.map((object, item): ObjectResult => ({ item, object, result: decideOne(object), warnings: documentWarnings(object) }));
  const changed = objects.some((o) => o.result.kind === 'decided' && o.result.decision.kind === 'mutate');
  if (!changed) return { doc, changed, objects };
  const out = { ...(doc as JsonObject), items: objects.map((o) => (o.result.kind === 'decided' && o.result.decision.kind === 'mutate' ? o.result.doc : o.object)) };
  return { doc: out, changed, objects };
}
