// Grace periods the platform does not honour, seen from the node side: spot
// and preemptible nodes get a short notice before they vanish, and
// cluster-autoscaler caps the grace period of the pods it evicts on scale-down.
// (The pod-side rule — which node kinds a pod asks for — belongs to the core
// once it lands there; this module reads the nodes pods actually run on.)
import type { KubeObject, Node, Workload } from './objects.js';

export interface GraceLimit {
  seconds: number;
  /** What imposes it, for the message. */
  source: string;
}

/** Well-known node labels of spot / preemptible capacity and the notice each provider gives. */
export const SPOT_NODE_LABELS: ReadonlyArray<{ label: string; value: string; seconds: number; source: string }> = [
  { label: 'eks.amazonaws.com/capacityType', value: 'SPOT', seconds: 120, source: 'AWS spot interruption notice (EKS managed node group, 2 min)' },
  { label: 'karpenter.sh/capacity-type', value: 'spot', seconds: 120, source: 'spot interruption notice (Karpenter spot node; AWS gives 2 min)' },
  { label: 'node.kubernetes.io/lifecycle', value: 'spot', seconds: 120, source: 'AWS spot interruption notice (2 min)' },
  { label: 'cloud.google.com/gke-spot', value: 'true', seconds: 30, source: 'GKE Spot VM termination notice (30 s)' },
  { label: 'cloud.google.com/gke-preemptible', value: 'true', seconds: 30, source: 'GKE preemptible VM termination notice (30 s)' },
  { label: 'kubernetes.azure.com/scalesetpriority', value: 'spot', seconds: 30, source: 'Azure Spot eviction notice (30 s)' },
];

export function nodeGraceLimit(node: Node): GraceLimit | undefined {
  const labels = node.metadata.labels ?? {};
  let limit: GraceLimit | undefined;
  for (const s of SPOT_NODE_LABELS) {
    if (labels[s.label] === s.value && (!limit || s.seconds < limit.seconds)) limit = { seconds: s.seconds, source: `${s.source} on node ${node.metadata.name}` };
  }
  return limit;
}

/** cluster-autoscaler's default --max-graceful-termination-sec. */
export const CLUSTER_AUTOSCALER_DEFAULT_GRACE_SECONDS = 600;
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

function isClusterAutoscaler(d: KubeObject): boolean {
  const labels = d.metadata.labels ?? {};
  return (
    labels['app.kubernetes.io/name'] === 'cluster-autoscaler' ||
    labels['app'] === 'cluster-autoscaler' ||
    labels['k8s-app'] === 'cluster-autoscaler' ||
    d.metadata.name === 'cluster-autoscaler'
  );
}

/** The cap cluster-autoscaler puts on evicted pods' grace, when a cluster-autoscaler Deployment is visible. */
export function clusterAutoscalerLimit(deployments: readonly Workload[]): GraceLimit | undefined {
  const ca = deployments.find(isClusterAutoscaler);
  if (!ca) return undefined;
  let seconds = CLUSTER_AUTOSCALER_DEFAULT_GRACE_SECONDS;
  let how = 'default';
  for (const c of ca.spec.template.spec.containers) {
    const args = [...(c.command ?? []), ...(c.args ?? [])];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const m = /^--?max-graceful-termination-sec(?:=(.*))?$/.exec(a);
      if (!m) continue;
      const v = m[1] ?? args[i + 1];
      if (v !== undefined && /^\d+$/.test(v)) {
        seconds = Number(v);
        how = `--max-graceful-termination-sec=${v}`;
      }
    }
  }
  return { seconds, source: `cluster-autoscaler scale-down (${ca.metadata.namespace}/${ca.metadata.name}, ${how}: ${seconds} s)` };
}
