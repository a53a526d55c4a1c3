// Grace periods the platform will not honour. A drain plan of 429 s means
// nothing on a node that is reclaimed 30 s after its notice, or under a
// cluster-autoscaler that gives pods at most 600 s on scale-down: the drain is
// cut short there, whatever terminationGracePeriodSeconds says. The pod spec
// tells which node kind it asks for (well-known node labels in nodeSelector or
// node affinity, tolerations of well-known taints); when the plan's grace is
// longer than that kind's limit, admission warns and names the limit.

import type { NodeSelectorRequirement, Pod } from './pod-schema.js';

type Expression = NodeSelectorRequirement;

/** One kind of node with a hard bound on how long a terminating pod gets. */
export interface NodeKind {
  /** Shown to the user: what the node is. */
  name: string;
  /** The most a regular pod gets after the notice, in seconds. */
  limitSeconds: number;
  /** Node labels that select it, as in nodeSelector: key → the values that mean this kind. */
  labels: Record<string, readonly string[]>;
  /** Taint keys its nodes carry, whose toleration lets a pod land there. */
  taints: readonly string[];
}

/**
 * Notice periods as the providers document them:
 * - EC2 Spot: a two-minute interruption notice. EKS managed node groups label
 *   nodes eks.amazonaws.com/capacityType=SPOT; Karpenter karpenter.sh/capacity-type=spot
 *   (Karpenter on Azure uses the same label; Azure's 30 s is named in the notice).
 * - GKE Spot and preemptible VMs: 30 s after the preemption notice, of which
 *   graceful node shutdown gives non-system pods the first 15 s.
 * - AKS spot node pools (label and NoSchedule taint kubernetes.azure.com/scalesetpriority=spot):
 *   the Preempt scheduled event comes at least 30 s ahead.
 */
export const NODE_KINDS: readonly NodeKind[] = [
  {
    name: 'EKS Spot',
    limitSeconds: 120,
    labels: { 'eks.amazonaws.com/capacityType': ['SPOT'] },
    taints: [],
  },
  {
    name: 'Karpenter spot',
    limitSeconds: 120,
    labels: { 'karpenter.sh/capacity-type': ['spot'] },
    taints: [],
  },
  {
    name: 'GKE Spot',
    limitSeconds: 15,
    labels: { 'cloud.google.com/gke-spot': ['true'], 'cloud.google.com/gke-preemptible': ['true'] },
    taints: ['cloud.google.com/gke-spot', 'cloud.google.com/gke-preemptible'],
  },
  {
    name: 'AKS Spot',
    limitSeconds: 30,
    labels: { 'kubernetes.azure.com/scalesetpriority': ['spot'] },
    taints: ['kubernetes.azure.com/scalesetpriority'],
  },
];

/** cluster-autoscaler's --max-graceful-termination-sec default: the most a pod gets on scale-down. */
export const CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS = 600;
/** A pod with this annotation set to "false" is never evicted by cluster-autoscaler. */
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

export interface PlatformLimit {
  /** e.g. "GKE Spot" or "cluster-autoscaler". */
  name: string;
  limitSeconds: number;
  /** The warning text, without the "ws-drain: " prefix. */
  message: string;
}

/** How the pod asks for a node kind: where it was seen (for the message). */
type Match = { how: 'requires' | 'may run on'; where: string };

/**
 * The limits the pod's grace exceeds, strictest first: the spot/preemptible
 * kinds the pod selects or tolerates, and cluster-autoscaler's default.
 */
export function platformLimits(pod: Pod, graceSeconds: number): PlatformLimit[] {
  const found: PlatformLimit[] = [];
  // Most pods name no node kind at all (no selector, affinity or toleration): nothing to match.
  const spec = pod.spec;
  const picksNodes = spec.nodeSelector != null || spec.affinity?.nodeAffinity != null || (spec.tolerations?.length ?? 0) > 0;
  for (const kind of NODE_KINDS) {
    if (!picksNodes || graceSeconds <= kind.limitSeconds) continue;
    const match = matchKind(pod, kind);
    if (!match) continue;
    // Short enough for one warning line (warning() cuts at 120 characters); docs/platform-limits.md has the why.
    const where = match.how === 'requires' ? '' : ', if placed there';
    found.push({
      name: kind.name,
      limitSeconds: kind.limitSeconds,
      message: `grace ${graceSeconds}s > ${kind.limitSeconds}s allowed on ${kind.name}${where} (${match.where})`,
    });
  }
  const safeToEvict = pod.metadata?.annotations?.[SAFE_TO_EVICT_ANNOTATION]?.trim().toLowerCase();
  if (graceSeconds > CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS && safeToEvict !== 'false') {
    found.push({
      name: 'cluster-autoscaler',
      limitSeconds: CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS,
      message: `grace ${graceSeconds}s > ${CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS}s allowed by cluster-autoscaler on scale-down (default --max-graceful-termination-sec)`,
    });
  }
  return found.sort((a, b) => a.limitSeconds - b.limitSeconds);
}

function matchKind(pod: Pod, kind: NodeKind): Match | undefined {
  const spec = pod.spec;
  for (const [key, values] of Object.entries(kind.labels)) {
    const selected = spec.nodeSelector?.[key];
    if (selected !== undefined && values.includes(selected)) return { how: 'requires', where: `nodeSelector ${key}` };
  }

  const kindValues = (key: string): readonly string[] => kind.labels[key] ?? [];
  // "In" with a value of this kind: the term accepts such nodes; with only such values, it needs one.
  const accepts = (e: Expression): boolean => e.operator === 'In' && kindValues(e.key).some((v) => (e.values ?? []).includes(v));
  const needs = (e: Expression): boolean => accepts(e) && (e.values ?? []).every((v) => kindValues(e.key).includes(v));
  const affinity = spec.affinity?.nodeAffinity;
  const terms = (affinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).map((t) => t.matchExpressions ?? []);
  const accepting = terms.flat().find(accepts);
  if (accepting) {
    // Terms are ORed: the pod needs this kind only when every term does.
    const required = terms.every((t) => t.some(needs));
    return { how: required ? 'requires' : 'may run on', where: `affinity ${accepting.key}` };
  }
  for (const p of affinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    const e = (p.preference?.matchExpressions ?? []).find(accepts);
    if (e) return { how: 'may run on', where: `preferred ${e.key}` };
  }

  for (const t of spec.tolerations ?? []) {
    // A key-less Exists tolerates every taint (DaemonSets do this): not a request for spot.
    if (!t.key || !kind.taints.includes(t.key)) continue;
    const valueOk = t.operator === 'Exists' || kindValues(t.key).includes(t.value ?? '');
    const effectOk = !t.effect || t.effect === 'NoSchedule';
    if (valueOk && effectOk) return { how: 'may run on', where: `toleration ${t.key}` };
  }
  return undefined;
}
