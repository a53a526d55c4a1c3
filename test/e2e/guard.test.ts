// The ValidatingAdmissionPolicy guard from manifests/base, table-tested against
// a real kube-apiserver while the webhook is registered but unreachable (the
// outage it exists for). failure-mode.test.ts already covers: session-p95
// without ws-drain/injected is denied (message names ws-drain/injected), a pod
// without annotations and `enabled: "false"` + session-p95 are admitted. Those
// cases are not repeated here.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_KEYS } from '../../src/core/annotations.js';
import { unknownKeys } from '../../src/core/unknown-keys.js';
import { INJECTED_ANNOTATION } from '../../src/core/types.js';
import { createNamespace, createPod, eventually, getPod, optedInPod } from './controlplane/pods.js';
import { applyObjects, loadValidatingPolicy } from './controlplane/registration.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-guard';
// manifests/base: the webhook's namespaceSelector and the policy binding both
// exclude namespaces (and pods) labelled ws-drain.io/inject: disabled.
const OPT_OUT_LABEL = 'ws-drain.io/inject';
const NS_OPTED_OUT = 'e2e-guard-opted-out';
// Excluded by name in the binding (and the webhook): kube-system exists on
// every API server; ws-drain-system is the install namespace.
const EXCLUDED_NAMESPACES = ['kube-system', 'ws-drain-system'];
const POLICY_NAME = 'ws-drain-require-injection';

const cluster = useWebhookCluster(NS);

beforeAll(async () => {
  await createNamespace(cluster.cp, NS_OPTED_OUT, { [OPT_OUT_LABEL]: 'disabled' });
  await createNamespace(cluster.cp, 'ws-drain-system');
  // Registered and known to be active (useWebhookCluster), then taken down: the registration
  // keeps pointing at a port nobody listens on (failurePolicy: Ignore lets pods through).
  await cluster.webhook.running.close();
  await applyObjects(cluster.cp, await loadValidatingPolicy());
  // Policies reach the admission chain through an informer: poll until it bites,
  // so the "allowed" rows below cannot pass just because it is not loaded yet.
  await eventually(
    `${POLICY_NAME} active`,
    async () => {
      const probe = await createPod(cluster.cp, NS, optedInPod('probe-guard', { 'ws-drain/enabled': 'true' }), { dryRun: true });
      return probe.response.status >= 400 && probe.message?.includes(POLICY_NAME) ? true : undefined;
    },
    60_000,
  );
});

interface GuardCase {
  name: string;
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  spec?: Record<string, unknown>;
}

function podFor(c: GuardCase): object {
  const base = optedInPod(c.name, c.annotations ?? {}) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  return {
    ...base,
    metadata: { ...base.metadata, ...(c.labels ? { labels: c.labels } : {}) },
    spec: { ...base.spec, ...c.spec },
  };
}

// Expected outcomes follow the policy's CEL (manifests/base/validating-admission-policy.yaml):
//   optedIn = 'ws-drain/enabled' in annotations
//             ? annotations['ws-drain/enabled'].trim() != 'false'
//             : 'ws-drain/session-p95' in annotations
//   deny unless !optedIn || windows || 'ws-drain/injected' in annotations
const denied: (GuardCase & { names: string })[] = [
  { name: 'enabled-true', annotations: { 'ws-drain/enabled': 'true' }, names: 'ws-drain/enabled' },
  // `.trim() == 'true'`: surrounding whitespace still opts in (as readOptIn in src/core/annotations.ts).
  { name: 'enabled-padded', annotations: { 'ws-drain/enabled': ' true ' }, names: 'ws-drain/enabled' },
  // Values other than "true"/"false" are bad input the webhook denies; the guard
  // denies them too (`.trim() != 'false'`), so they cannot slip through an outage.
  { name: 'enabled-yes', annotations: { 'ws-drain/enabled': 'yes', 'ws-drain/session-p95': '5m' }, names: 'ws-drain/enabled' },
  { name: 'enabled-capital', annotations: { 'ws-drain/enabled': 'True' }, names: 'ws-drain/enabled' },
  // A Linux node selector is not the Windows exemption.
  { name: 'linux-selector', annotations: { 'ws-drain/session-p95': '5m' }, spec: { nodeSelector: { 'kubernetes.io/os': 'linux' } }, names: 'ws-drain/session-p95' },
];

const allowed: GuardCase[] = [
  { name: 'already-injected', annotations: { 'ws-drain/session-p95': '5m', [INJECTED_ANNOTATION]: 'v0.1.0' } },
  { name: 'windows-os', annotations: { 'ws-drain/session-p95': '5m' }, spec: { os: { name: 'windows' } } },
  { name: 'windows-selector', annotations: { 'ws-drain/session-p95': '5m' }, spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } } },
  { name: 'in-opted-out-ns', namespace: NS_OPTED_OUT, annotations: { 'ws-drain/session-p95': '5m' } },
  { name: 'pod-opted-out', annotations: { 'ws-drain/session-p95': '5m' }, labels: { [OPT_OUT_LABEL]: 'disabled' } },
  { name: 'enabled-false', annotations: { 'ws-drain/enabled': ' false ', 'ws-drain/session-p95': '5m' } },
  // Only ws-drain/ tuning keys, no opt-in key.
  { name: 'tuning-only', annotations: { 'ws-drain/prestop-delay': '30s' } },
  ...EXCLUDED_NAMESPACES.map((namespace) => ({ name: `in-${namespace}`, namespace, annotations: { 'ws-drain/session-p95': '5m' } })),
];

// Unknown ws-drain/ keys, with or without an opt-in: the `knownKeys` validation
// (reason Invalid → 422), whose message names the key.
const unknownKey: (GuardCase & { key: string })[] = [
  { name: 'typo-alone-underscore', annotations: { 'ws-drain/session_p95': '5m' }, key: 'ws-drain/session_p95' },
  { name: 'typo-alone-letter', annotations: { 'ws-drain/sesion-p95': '5m' }, key: 'ws-drain/sesion-p95' },
  { name: 'typo-opted-out', annotations: { 'ws-drain/enabled': 'false', 'ws-drain/colour': 'blue' }, key: 'ws-drain/colour' },
  {
    name: 'typo-injected',
    annotations: { 'ws-drain/session-p95': '5m', [INJECTED_ANNOTATION]: 'v0.1.0', 'ws-drain/drain_http': ':80/x' },
    key: 'ws-drain/drain_http',
  },
];

describe('guard while the webhook is registered but unreachable', () => {
  it.each(unknownKey)('denies the unknown key of $name and names $key', async (c) => {
    const result = await createPod(cluster.cp, NS, podFor(c));
    expect(result.response.status, result.message).toBe(422);
    expect(result.message).toContain(POLICY_NAME);
    expect(result.message).toContain(`unknown annotation ${c.key}`);
    expect(await getPod(cluster.cp, NS, c.name)).toBeUndefined();
  });


  it.each(denied)('denies $name and names $names and ws-drain/injected', async (c) => {
    const namespace = c.namespace ?? NS;
    const result = await createPod(cluster.cp, namespace, podFor(c));
    // The policy's validation says `reason: Forbidden`, which the API server returns as 403.
    expect(result.response.status, result.message).toBe(403);
    expect(result.message).toContain(POLICY_NAME);
    expect(result.message).toContain(c.names);
    expect(result.message).toContain(INJECTED_ANNOTATION);
    expect(await getPod(cluster.cp, namespace, c.name)).toBeUndefined();
  });

  it.each(allowed)('admits $name, un-injected', async (c) => {
    const namespace = c.namespace ?? NS;
    const result = await createPod(cluster.cp, namespace, podFor(c));
    expect(result.response.status, result.message).toBe(201);
    const stored = await getPod(cluster.cp, namespace, c.name);
    // Stored as sent: the webhook is down, so nothing injected anything.
    expect(stored?.spec.initContainers ?? []).toHaveLength(0);
    expect(stored?.metadata.annotations?.[INJECTED_ANNOTATION]).toBe(c.annotations?.[INJECTED_ANNOTATION]);
  });
});

describe('the guard and the core deny the same keys (one list)', () => {
  // Valid annotation names (the API server validates keys before the policy runs):
  // every known key, typos of them, and arbitrary names under ws-drain/.
  const name = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/);
  const typo = fc.constantFrom(...KNOWN_KEYS).map((k) => k.replace('-', '_'));
  const keys = [...new Set([...KNOWN_KEYS, ...fc.sample(typo, { numRuns: 10, seed: 9 }), ...fc.sample(name.map((n) => `ws-drain/${n}`), { numRuns: 30, seed: 9 })])];

  it('for every key: denied as unknown by the policy exactly when the core calls it unknown', async () => {
    const mismatches: string[] = [];
    for (const [i, key] of keys.entries()) {
      const pod = podFor({ name: `parity-${i}`, annotations: { [key]: '5m' } });
      const result = await createPod(cluster.cp, NS, pod, { dryRun: true });
      const policyUnknown = result.response.status === 422 && (result.message ?? '').includes(`unknown annotation ${key}`);
      const coreUnknown = unknownKeys({ [key]: '5m' }).length > 0;
      if (policyUnknown !== coreUnknown) mismatches.push(`${key}: policy ${String(policyUnknown)} (${result.response.status}), core ${String(coreUnknown)}`);
    }
    expect(keys.length).toBeGreaterThan(KNOWN_KEYS.size + 20);
    // Both sides of the rule were exercised.
    expect(keys.filter((k) => unknownKeys({ [k]: '' }).length > 0).length).toBeGreaterThan(20);
    expect(mismatches).toEqual([]);
  });
});
