// Grace periods beyond what the platform allows: warned at admission, naming the limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS, NODE_KINDS, platformLimits } from '../../src/core/platform-limits.js';
import { PodSchema, type Pod } from '../../src/core/pod-schema.js';
import { warning } from '../../src/core/inject.js';
import { CONFIG, container, pod, tcp, type Json } from './pod-builders.js';

// Defaults: D 20 + S 300 + C 10, +30 % → 429 s.
const DEFAULT_GRACE = 429;

function spotPod(scheduling: Json, annotations: Record<string, string> = { 'ws-drain/session-p95': '5m' }): Json {
  return pod(annotations, { containers: [container('web', { ports: [tcp(8080)] })], ...scheduling });
}
const asPod = (p: Json): Pod => PodSchema.parse(p) as Pod;
function warningsOf(p: Json): string[] {
  const d = decide(p, 'default', CONFIG);
  if (d.kind !== 'mutate') throw new Error(`expected mutate, got ${JSON.stringify(d)}`);
  return d.warnings;
}
const required = (key: string, values: string[]) => ({
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator: 'In', values }] }] } } },
});

describe('spot and preemptible nodes', () => {
  it.each([
    [{ nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } }, 'ws-drain: grace 429s > 120s allowed on EKS Spot (nodeSelector eks.amazonaws.com/capacityType)'],
    [{ nodeSelector: { 'karpenter.sh/capacity-type': 'spot' } }, 'ws-drain: grace 429s > 120s allowed on Karpenter spot (nodeSelector karpenter.sh/capacity-type)'],
    [{ nodeSelector: { 'cloud.google.com/gke-spot': 'true' } }, 'ws-drain: grace 429s > 15s allowed on GKE Spot (nodeSelector cloud.google.com/gke-spot)'],
    [{ nodeSelector: { 'cloud.google.com/gke-preemptible': 'true' } }, 'ws-drain: grace 429s > 15s allowed on GKE Spot (nodeSelector cloud.google.com/gke-preemptible)'],
    [{ nodeSelector: { 'kubernetes.azure.com/scalesetpriority': 'spot' } }, 'ws-drain: grace 429s > 30s allowed on AKS Spot (nodeSelector kubernetes.azure.com/scalesetpriority)'],
    [
      { tolerations: [{ key: 'kubernetes.azure.com/scalesetpriority', operator: 'Equal', value: 'spot', effect: 'NoSchedule' }] },
      'ws-drain: grace 429s > 30s allowed on AKS Spot, if placed there (toleration kubernetes.azure.com/scalesetpriority)',
    ],
    [{ tolerations: [{ key: 'cloud.google.com/gke-spot', operator: 'Exists' }] }, 'ws-drain: grace 429s > 15s allowed on GKE Spot, if placed there (toleration cloud.google.com/gke-spot)'],
    [required('karpenter.sh/capacity-type', ['spot']), 'ws-drain: grace 429s > 120s allowed on Karpenter spot (affinity karpenter.sh/capacity-type)'],
    [required('karpenter.sh/capacity-type', ['spot', 'on-demand']), 'ws-drain: grace 429s > 120s allowed on Karpenter spot, if placed there (affinity karpenter.sh/capacity-type)'],
    [
      { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'eks.amazonaws.com/capacityType', operator: 'In', values: ['SPOT'] }] } }] } } },
      'ws-drain: grace 429s > 120s allowed on EKS Spot, if placed there (preferred eks.amazonaws.com/capacityType)',
    ],
  ])('warns with the limit: %j', (scheduling, expected) => {
    expect(warningsOf(spotPod(scheduling))).toContain(expected);
  });

  it('the plan names the limits too (ws-drain/plan platformLimits), strictest first', () => {
    const p = spotPod({ nodeSelector: { 'cloud.google.com/gke-spot': 'true' } }, { 'ws-drain/session-p95': '10m' });
    const d = decide(p, 'default', CONFIG);
    if (d.kind !== 'mutate') throw new Error(JSON.stringify(d));
    expect(d.plan.platformLimits).toEqual([
      { name: 'GKE Spot', limitSeconds: 15 },
      { name: 'cluster-autoscaler', limitSeconds: 600 },
    ]);
    const written = JSON.parse((d.pod as { metadata: { annotations: Record<string, string> } }).metadata.annotations['ws-drain/plan']!) as Json;
    expect(written['platformLimits']).toEqual(d.plan.platformLimits);
  });

  it('a plan within every limit has no platformLimits field', () => {
    const d = decide(spotPod({}), 'default', CONFIG);
    expect(d.kind === 'mutate' && d.plan).not.toHaveProperty('platformLimits');
  });

  it('says "may run on" when only one of the ORed required terms asks for spot', () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] },
            { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] },
          ],
        },
      },
    };
    expect(platformLimits(asPod(spotPod({ affinity })), DEFAULT_GRACE).map((l) => l.message)).toEqual([
      'grace 429s > 120s allowed on Karpenter spot, if placed there (affinity karpenter.sh/capacity-type)',
    ]);
  });

  it.each([
    ['on-demand selector', { nodeSelector: { 'karpenter.sh/capacity-type': 'on-demand' } }],
    ['label value of another spelling (matches no node)', { nodeSelector: { 'eks.amazonaws.com/capacityType': 'spot' } }],
    ['NotIn spot', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'karpenter.sh/capacity-type', operator: 'NotIn', values: ['spot'] }] }] } } } }],
    ['tolerate-everything (DaemonSet style)', { tolerations: [{ operator: 'Exists' }] }],
    ['toleration for another value', { tolerations: [{ key: 'kubernetes.azure.com/scalesetpriority', operator: 'Equal', value: 'regular' }] }],
    ['toleration for NoExecute only', { tolerations: [{ key: 'cloud.google.com/gke-spot', operator: 'Exists', effect: 'NoExecute' }] }],
    ['no scheduling constraints', {}],
  ])('no warning for %s', (_, scheduling) => {
    expect(platformLimits(asPod(spotPod(scheduling)), DEFAULT_GRACE)).toEqual([]);
  });

  it('no warning when the grace fits: 25s on AKS Spot', () => {
    const p = spotPod({ nodeSelector: { 'kubernetes.azure.com/scalesetpriority': 'spot' } }, { 'ws-drain/session-p95': '5s', 'ws-drain/prestop-delay': '5s', 'ws-drain/cleanup': '5s', 'ws-drain/grace-margin': '0' });
    const d = decide(p, 'default', CONFIG);
    expect(d.kind === 'mutate' && d.plan.graceSeconds).toBe(30);
    expect(d.kind === 'mutate' && d.warnings.filter((w) => w.includes('AKS'))).toEqual([]);
  });
});

describe('cluster-autoscaler', () => {
  const long = { 'ws-drain/session-p95': '10m' }; // (20 + 600 + 10) × 1.3 = 819
  it('warns above its 600s default on every pod, naming the flag', () => {
    expect(warningsOf(spotPod({}, long))).toContain("ws-drain: grace 819s > 600s allowed by cluster-autoscaler on scale-down (default --max-graceful-termination-sec)");
  });
  it('does not warn for a pod cluster-autoscaler never evicts (safe-to-evict: "false")', () => {
    const w = warningsOf(spotPod({}, { ...long, 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' }));
    expect(w.filter((x) => x.includes('cluster-autoscaler'))).toEqual([]);
  });
  it('does not warn at exactly 600s', () => {
    expect(platformLimits(asPod(spotPod({})), CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS)).toEqual([]);
  });
});

describe('properties', () => {
  const kind = fc.constantFrom(...NODE_KINDS);
  const via = fc.constantFrom('nodeSelector', 'affinity', 'preferred', 'toleration');
  function scheduling(k: (typeof NODE_KINDS)[number], how: string): Json | undefined {
    const [key, values] = Object.entries(k.labels)[0]!;
    const value = values[0]!;
    switch (how) {
      case 'nodeSelector':
        return { nodeSelector: { [key]: value } };
      case 'affinity':
        return required(key, [value]);
      case 'preferred':
        return { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key, operator: 'In', values: [value] }] } }] } } };
      default:
        return k.taints.length > 0 ? { tolerations: [{ key: k.taints[0], operator: 'Exists' }] } : undefined;
    }
  }

  it('warns exactly when grace exceeds the limit of the kind asked for, and the warning names both numbers untruncated', () => {
    fc.assert(
      fc.property(kind, via, fc.integer({ min: 0, max: 99_999 }), (k, how, grace) => {
        const s = scheduling(k, how);
        if (!s) return;
        const limits = platformLimits(asPod(spotPod(s)), grace).filter((l) => l.name === k.name);
        expect(limits.length).toBe(grace > k.limitSeconds ? 1 : 0);
        for (const l of limits) {
          expect(l.message).toContain(`grace ${grace}s > ${k.limitSeconds}s`);
          // Kubernetes shows warnings on one line; warning() cuts at 120 characters.
          expect(warning(l.message)).toBe(`ws-drain: ${l.message}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('limits come strictest first, and never for a pod without scheduling constraints below 600s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999 }), fc.subarray([...NODE_KINDS]), (grace, kinds) => {
        const nodeSelector = Object.fromEntries(kinds.map((k) => Object.entries(k.labels)[0]!).map(([key, v]) => [key, v[0]!]));
        const limits = platformLimits(asPod(spotPod({ nodeSelector })), grace);
        const seconds = limits.map((l) => l.limitSeconds);
        expect(seconds).toEqual([...seconds].sort((a, b) => a - b));
        if (kinds.length === 0) expect(limits.length).toBe(grace > CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS ? 1 : 0);
      }),
    );
  });
});
