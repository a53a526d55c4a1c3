// Opted-in workloads and pods: the plan each gets (from the core, exactly as
// the webhook computes it), pods that slipped through or carry an old helper,
// and grace periods the platform will cut short.
import { readOptIn } from '../core/annotations.js';
import { decideWorkload } from '../core/workloads.js';
import { hasSessionCandidate, namespaceOptsIn, type NamespaceView } from '../core/namespace-defaults.js';
import { INJECTED_ANNOTATION, PLAN_ANNOTATION, type Plan, type WebhookConfig } from '../core/types.js';
import { isWindowsPod } from '../core/inject.js';
import type { Pod as CorePod } from '../core/pod-schema.js';
import { finding, type Finding, type ObjectRef } from './findings.js';
import type { KubeObject, LabelSelector, Pod, Workload } from './objects.js';
import { matchesSelector } from './selectors.js';
import { clusterAutoscalerLimit, nodeGraceLimit, SAFE_TO_EVICT_ANNOTATION, type GraceLimit } from './node-limits.js';
import { platformLimits } from '../core/platform-limits.js';
import { compareVersions, type InstallView } from './webhook-install.js';
import type { Snapshot } from './snapshot.js';

/** One opted-in workload (or bare pod) and what ws-drain does with it. */
export interface WorkloadView {
  object: ObjectRef;
  /** Labels its pods carry (the pod template's, or the pod's own). */
  podLabels: Record<string, string>;
  /** The plan the webhook gives its pods; absent when denied. */
  plan?: Plan;
  /** The webhook's denial message, when its pods would be refused. */
  denied?: string;
  /** The pods of this workload that exist now. */
  pods: Pod[];
  /** The raw object (for rollout settings). */
  source: KubeObject;
  /** Set when the webhook's selectors leave it out (it will never be injected). */
  outOfScope?: string;
}

const APPS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'] as const;
/** Controllers whose pods are reported through their workload rather than one by one. */
const POD_OWNERS = new Set(['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']);

function controllerOf(o: KubeObject): string | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller)?.kind;
}

export function inScope(snapshot: Snapshot, namespace: string | undefined): boolean {
  return snapshot.scope === undefined || (namespace !== undefined && snapshot.scope.includes(namespace));
}

function withKind(kind: string, apiVersion: string, o: KubeObject): KubeObject {
  // Lists return items without apiVersion/kind; the core dispatches on them.
  return { ...o, apiVersion, kind };
}

/** Every top-level workload and bare pod in scope that opted in (valid or not). */
export function collectWorkloads(snapshot: Snapshot, install: InstallView): WorkloadView[] {
  const config = install.configSource.config;
  const candidates: Array<{ kind: string; apiVersion: string; obj: KubeObject; selector?: LabelSelector | null; labels: Record<string, string> }> = [];
  const add = (kind: string, apiVersion: string, list: readonly Workload[], skipOwnedBy?: string[]) => {
    for (const w of list) {
      const owner = controllerOf(w);
      if (owner && skipOwnedBy?.includes(owner)) continue;
      candidates.push({ kind, apiVersion, obj: w, selector: w.spec.selector, labels: w.spec.template.metadata?.labels ?? {} });
    }
  };
  add(APPS[0], 'apps/v1', snapshot.deployments);
  add(APPS[1], 'apps/v1', snapshot.statefulSets);
  add(APPS[2], 'apps/v1', snapshot.daemonSets);
  add(APPS[3], 'apps/v1', snapshot.replicaSets, ['Deployment', 'Rollout']);
  add('Job', 'batch/v1', snapshot.jobs, ['CronJob']);
  add('Rollout', 'argoproj.io/v1alpha1', snapshot.rollouts);
  for (const c of snapshot.cronJobs) {
    candidates.push({ kind: 'CronJob', apiVersion: 'batch/v1', obj: c, labels: c.spec.jobTemplate.spec.template.metadata?.labels ?? {} });
  }
  for (const p of snapshot.pods) {
    const owner = controllerOf(p);
    if (owner && POD_OWNERS.has(owner)) continue;
    candidates.push({ kind: 'Pod', apiVersion: 'v1', obj: p, labels: p.metadata.labels ?? {} });
  }

  const podsByNamespace = new Map<string, Pod[]>();
  for (const p of snapshot.pods) {
    const ns = p.metadata.namespace ?? '';
    const list = podsByNamespace.get(ns);
    if (list) list.push(p);
    else podsByNamespace.set(ns, [p]);
  }
  const out: WorkloadView[] = [];
  for (const c of candidates) {
    const ns = c.obj.metadata.namespace;
    if (!inScope(snapshot, ns)) continue;
    const annotations = templateAnnotations(c.kind, c.obj);
    const optIn = readOptIn(annotations);
    // The namespace as the webhook's informer sees it: its label may opt the pods in, its annotations are defaults.
    const nsView = namespaceViewOf(snapshot, ns ?? 'default');
    if (optIn.kind === 'opted-out' || (optIn.kind === 'not-opted-in' && !namespaceOptsIn(nsView))) continue;
    const object: ObjectRef = { kind: c.kind, namespace: ns, name: c.obj.metadata.name };
    const pods =
      c.kind === 'Pod'
        ? [c.obj as Pod]
        : c.selector
          ? (podsByNamespace.get(ns ?? '') ?? []).filter((p) => matchesSelector(c.selector, p.metadata.labels))
          : [];
    const view: WorkloadView = { object, podLabels: c.labels, pods, source: c.obj };
    const outOfScope = webhookScopeMiss(snapshot, install, config, ns ?? 'default', c.labels);
    if (outOfScope) view.outOfScope = outOfScope;

    const result = decideWorkload(withKind(c.kind, c.apiVersion, c.obj), config, nsView);
    if (result.kind === 'passthrough') continue; // a kind the core does not handle
    const d = result.decision;
    if (d.kind === 'mutate') view.plan = d.plan;
    else if (d.kind === 'deny') view.denied = d.message;
    else if (d.kind === 'skip' && d.reason === 'already-injected') {
      const plan = planFromAnnotation(annotations[PLAN_ANNOTATION]);
      if (plan) view.plan = plan;
    } else if (d.kind === 'skip' && (d.reason === 'windows' || d.reason === 'not-opted-in' || d.reason === 'opted-out' || d.reason === 'no-tcp-port')) continue;
    out.push(view);
  }
  return out;
}

function namespaceViewOf(snapshot: Snapshot, name: string): NamespaceView {
  const ns = snapshot.namespaces.find((n) => n.metadata.name === name);
  return { name, labels: ns?.metadata.labels ?? {}, annotations: ns?.metadata.annotations ?? {} };
}

function templateAnnotations(kind: string, o: KubeObject): Record<string, string> {
  return podViewOf(kind, o)?.metadata?.annotations ?? {};
}

function planFromAnnotation(text: string | undefined): Plan | undefined {
  if (text === undefined) return undefined;
  try {
    const p = JSON.parse(text) as Partial<Plan>;
    return typeof p.graceSeconds === 'number' && typeof p.sessionP95Seconds === 'number' ? (p as Plan) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the webhook will never see pods with these labels in this namespace (undefined: it will). */
function webhookScopeMiss(snapshot: Snapshot, install: InstallView, config: WebhookConfig, namespace: string, labels: Record<string, string>): string | undefined {
  if (config.excludeNamespaces.includes(namespace)) return `namespace ${namespace} is excluded by the webhook (--exclude-namespaces)`;
  const entry = install.webhooks[0];
  if (!entry) return undefined;
  const ns = snapshot.namespaces.find((n) => n.metadata.name === namespace);
  const nsLabels = ns?.metadata.labels ?? { 'kubernetes.io/metadata.name': namespace };
  // One entry per way of opting in (pod annotation, namespace label): in scope when any of them is called.
  if (install.webhooks.some((w) => matchesSelector(w.webhook.namespaceSelector, nsLabels) && matchesSelector(w.webhook.objectSelector, labels))) return undefined;
  if (!matchesSelector(entry.webhook.namespaceSelector, nsLabels)) return `namespace ${namespace} does not match the namespaceSelector of ${entry.config.metadata.name}`;
  return `its pod labels do not match the objectSelector of ${entry.config.metadata.name}`;
}

export function workloadRules(snapshot: Snapshot, install: InstallView, workloads: readonly WorkloadView[]): Finding[] {
  const out: Finding[] = [];
  const caLimit = clusterAutoscalerLimit(snapshot.deployments);
  for (const w of workloads) {
    if (w.outOfScope) {
      out.push(finding('WSD205', w.object, `opted in with ws-drain/ annotations, but the webhook never sees its pods: ${w.outOfScope}`, 'remove the ws-drain/ annotations, or change the namespace/pod labels (ws-drain.io/inject) so the webhook is called'));
      continue;
    }
    if (w.denied !== undefined) {
      out.push(finding('WSD201', w.object, `the webhook denies its pods: ${w.denied}`, 'fix the ws-drain/ annotations of the pod template (ws-drain plan explains the numbers)'));
      continue;
    }
    if (!w.plan) continue;
    const limit = graceLimitFor(snapshot, w, caLimit);
    if (limit && w.plan.graceSeconds > limit.seconds) {
      out.push(
        finding(
          'WSD204',
          w.object,
          `grace period ${w.plan.graceSeconds} s (drain ${w.plan.prestopDelaySeconds + w.plan.sessionP95Seconds} s) is longer than the ${limit.seconds} s the platform gives: ${limit.source}; sessions still open then are cut`,
          limit.autoscaler
            ? `lower ws-drain/session-p95 so the grace fits in ${limit.seconds} s, raise --max-graceful-termination-sec, or annotate the pods ${SAFE_TO_EVICT_ANNOTATION}: "false"`
            : `keep these pods off spot/preemptible nodes (nodeSelector/affinity), or lower ws-drain/session-p95 so the grace fits in ${limit.seconds} s`,
        ),
      );
    }
  }
  out.push(...podRules(snapshot, install));
  return out;
}

function graceLimitFor(snapshot: Snapshot, w: WorkloadView, caLimit: GraceLimit | undefined): GraceLimit | undefined {
  const view = podViewOf(w.object.kind, w.source);
  const candidates: GraceLimit[] = [];
  const safeToEvictFalse = view?.metadata?.annotations?.[SAFE_TO_EVICT_ANNOTATION]?.trim().toLowerCase() === 'false';
  if (caLimit && !safeToEvictFalse) candidates.push(caLimit);
  // Where the pods run now.
  for (const p of w.pods) {
    const node = p.spec.nodeName ? snapshot.nodes.find((n) => n.metadata.name === p.spec.nodeName) : undefined;
    const l = node ? nodeGraceLimit(node) : undefined;
    if (l) candidates.push(l);
  }
  // Where the template asks to run (the core's rule, as the webhook warns at admission);
  // cluster-autoscaler is judged above from its real Deployment, not assumed.
  if (view && w.plan) {
    for (const l of platformLimits(view as unknown as CorePod, w.plan.graceSeconds)) {
      if (l.name !== 'cluster-autoscaler') candidates.push({ seconds: l.limitSeconds, source: `${l.name}, which the pod spec asks for: ${l.message}` });
    }
  }
  return candidates.sort((a, b) => a.seconds - b.seconds)[0];
}

/** The pod (or pod template) of a workload as the core sees a pod: metadata and spec. */
function podViewOf(kind: string, o: KubeObject): { metadata?: { annotations?: Record<string, string> | null } | null; spec?: unknown } | undefined {
  if (kind === 'Pod') return o as unknown as { metadata: { annotations?: Record<string, string> | null }; spec: unknown };
  const spec = (o as { spec?: Record<string, unknown> }).spec;
  const template = kind === 'CronJob' ? (spec?.['jobTemplate'] as { spec?: { template?: unknown } } | undefined)?.spec?.template : spec?.['template'];
  return template as { metadata?: { annotations?: Record<string, string> | null } | null; spec?: unknown } | undefined;
}

const FINISHED = new Set(['Succeeded', 'Failed']);

/** Pods that exist now: opted in but never injected, or injected by an older helper. */
function podRules(snapshot: Snapshot, install: InstallView): Finding[] {
  const out: Finding[] = [];
  const config = install.configSource.config;
  for (const pod of snapshot.pods) {
    const ns = pod.metadata.namespace ?? 'default';
    if (!inScope(snapshot, ns) || FINISHED.has(pod.status?.phase ?? '')) continue;
    const annotations = pod.metadata.annotations ?? {};
    const ref: ObjectRef = { kind: 'Pod', namespace: ns, name: pod.metadata.name };
    const injected = annotations[INJECTED_ANNOTATION];
    if (injected === undefined) {
      const optIn = readOptIn(annotations).kind;
      // Opted in by its own annotation, or by its namespace's label (with a TCP port), as the core decides.
      const byNamespace = optIn === 'not-opted-in' && namespaceOptsIn(namespaceViewOf(snapshot, ns)) && hasSessionCandidate(pod as unknown as CorePod);
      if (optIn !== 'opted-in' && !byNamespace) continue;
      if (isWindowsPod(pod as unknown as CorePod)) continue;
      if (webhookScopeMiss(snapshot, install, config, ns, pod.metadata.labels ?? {})) continue;
      if (install.webhooks.length === 0) continue; // WSD101 already says nothing is injected
      out.push(
        finding(
          'WSD202',
          ref,
          `opted in but not injected (no ${INJECTED_ANNOTATION}): it was created while the webhook was down or bypassed, and terminates with terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds ?? 30} and no drain`,
          `recreate it once the webhook is healthy (kubectl -n ${ns} rollout restart <its workload>, or delete the pod)`,
        ),
      );
      continue;
    }
    const cmp = compareVersions(injected, install.expectedHelperVersion);
    if (cmp !== undefined && cmp < 0) {
      out.push(
        finding(
          'WSD203',
          ref,
          `injected by ws-drain ${injected}; the webhook now injects ${install.expectedHelperVersion}: this pod drains with the older helper until it is recreated`,
          `recreate it (kubectl -n ${ns} rollout restart <its workload>) to get the current helper`,
        ),
      );
    }
  }
  return out;
}
