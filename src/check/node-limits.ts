// Grace periods the platform does not honour, for the pods as they run: the
// node kinds and limits are the core's (src/core/platform-limits.ts, which the
// webhook uses to warn about the node kind a pod *asks for*); here they are
// applied to the nodes the pods actually run on, and cluster-autoscaler's cap
// is read from its Deployment instead of assumed.
import { CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS, NODE_KINDS } from '../core/platform-limits.js';
import type { KubeObject, Node, Workload } from './objects.js';

export { SAFE_TO_EVICT_ANNOTATION } from '../core/platform-limits.js';

export interface GraceLimit {
  seconds: number;
  /** What imposes it, for the message. */
  source: string;
  /** True for cluster-autoscaler's cap (the fix differs). */
  autoscaler?: boolean;
}

/** The strictest limit of the node kinds whose labels the node carries. */
export function nodeGraceLimit(node: Node): GraceLimit | undefined {
  const labels = node.metadata.labels ?? {};
  let limit: GraceLimit | undefined;
  for (const kind of NODE_KINDS) {
    const matches = Object.entries(kind.labels).some(([key, values]) => labels[key] !== undefined && values.includes(labels[key]!));
    if (matches && (!limit || kind.limitSeconds < limit.seconds)) {
      limit = { seconds: kind.limitSeconds, source: `${kind.name} node ${node.metadata.name} (${kind.limitSeconds} s after the reclaim notice)` };
    }
  }
  return limit;
}

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
  let seconds = CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS;
  let how = 'default';
  for (const c of ca.spec.template.spec.containers) {
    const args = [...(c.command ?? []), ...(c.args ?? [])];
    for (let i = 0; i < args.length; i++) {
      const m = /^--?max-graceful-termination-sec(?:=(.*))?$/.exec(args[i]!);
      if (!m) continue;
      const v = m[1] ?? args[i + 1];
      if (v !== undefined && /^\d+$/.test(v)) {
        seconds = Number(v);
        how = `--max-graceful-termination-sec=${v}`;
      }
    }
  }
  return { seconds, autoscaler: true, source: `cluster-autoscaler scale-down (${ca.metadata.namespace}/${ca.metadata.name}, ${how}: ${seconds} s)` };
}
