// failurePolicy: Ignore keeps pod creation working while the webhook is down;
// the ValidatingAdmissionPolicy guard from manifests/base then refuses opted-in
// pods that slipped through un-injected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INIT_CONTAINER_NAME, INJECTED_ANNOTATION } from '../../src/core/types.js';
import { startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { createNamespace, createPod, eventually, getPod, optedInPod, waitForInjectionActive } from './controlplane/pods.js';
import { applyObjects, loadValidatingPolicy } from './controlplane/registration.js';
import { startRegisteredWebhook, type WsDrainWebhook } from './controlplane/webhook.js';

const NS = 'e2e-failure';
let cp: ControlPlane;
let webhook: WsDrainWebhook | undefined;

beforeAll(async () => {
  cp = await startControlPlane();
  webhook = await startRegisteredWebhook(cp);
  await createNamespace(cp, NS);
  await waitForInjectionActive(cp, NS);
});

afterAll(async () => {
  await webhook?.stop();
  await cp?.stop();
});

describe('webhook outage', () => {
  it('admits an opted-in pod without injection while the webhook is down (failurePolicy: Ignore)', async () => {
    // The registration stays and points at a port nobody listens on any more.
    await webhook?.running.close();
    const created = await createPod(cp, NS, optedInPod('while-down'));
    expect(created.response.status, created.message).toBe(201);
    const stored = await getPod(cp, NS, 'while-down');
    expect(stored?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
    expect(stored?.spec.initContainers ?? []).toHaveLength(0);
    expect(stored?.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it('the ValidatingAdmissionPolicy guard denies an opted-in pod that was not injected', async () => {
    await applyObjects(cp, await loadValidatingPolicy());
    // Policies reach the admission chain through an informer: poll until it bites.
    const denial = await eventually(
      'ValidatingAdmissionPolicy ws-drain-require-injection active',
      async () => {
        const probe = await createPod(cp, NS, optedInPod('probe-guard'), { dryRun: true });
        return probe.response.status >= 400 ? probe : undefined;
      },
      60_000,
    );
    expect(denial.message).toContain('ws-drain-require-injection');

    const created = await createPod(cp, NS, optedInPod('guarded'));
    expect(created.response.status).toBeGreaterThanOrEqual(400);
    expect(created.message).toContain(INJECTED_ANNOTATION);
    expect(await getPod(cp, NS, 'guarded')).toBeUndefined();
  });

  it('the guard leaves pods alone that did not opt in or opted out', async () => {
    const plain = await createPod(cp, NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'app', image: 'x' }] } });
    expect(plain.response.status, plain.message).toBe(201);
    const optedOut = await createPod(cp, NS, optedInPod('opted-out', { 'ws-drain/session-p95': '2m', 'ws-drain/enabled': 'false' }));
    expect(optedOut.response.status, optedOut.message).toBe(201);
  });

  it('once the webhook is back, opted-in pods are injected and pass the guard', async () => {
    webhook = await startRegisteredWebhook(cp);
    await waitForInjectionActive(cp, NS);
    const created = await createPod(cp, NS, optedInPod('after-recovery'));
    expect(created.response.status, created.message).toBe(201);
    expect(created.pod?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeTruthy();
    expect(created.pod?.spec.initContainers?.map((c) => c.name)).toEqual([INIT_CONTAINER_NAME]);
  });
});
