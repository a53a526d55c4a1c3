// ws-drain installed with Helm on the real node (issue 13: "where the real
// node exists, an install there"), in place of the kustomize install, on the
// suite's one node: the chart from charts/ws-drain, the Helm that
// tools/helm/build.sh builds, the images of the node's registry pinned by digest, and
// the chart's path for clusters without cert-manager (a serving-certificate
// Secret created first, its CA in tls.caBundle). Then:
// - a Deployment in a namespace opted in by label, with namespace defaults and
//   no ws-drain annotation, is injected by the Helm-installed webhook;
// - `helm upgrade` with a changed value reaches the next admissions;
// - `helm uninstall` leaves no webhook configuration or guard: a pod created
//   afterwards is admitted untouched, and the pods injected before still drain
//   cleanly under load (the same assertions as the kustomize install's).
// Registered from drain.test.ts, like pod-shapes.ts, to share its node.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createPod, optedInPod } from '../e2e/controlplane/pods.js';
import { RELEASE } from '../manifests/helm.js';
import { expectCleanDrain } from './expect-drain.js';
import { helmOnNode, helmUpgrade, installWithHelm, removeKustomizeInstall, type HelmInstall } from './install.js';
import type { RealNode } from './node.js';
import { underLoad } from './scenario.js';
import { applyObjects, exampleWorkload, listPods, TEST_ANNOTATIONS, waitFor, waitForReady } from './workload.js';

/** Another namespace than the kustomize install's: the chart puts the release namespace everywhere (certificate names, clientConfig, exclusions). */
const HELM_NAMESPACE = 'ws-drain-helm';
/** Opted in by its label; the test annotations are its defaults. */
const APPS_NAMESPACE = 'ws-helm-apps';
const APP = 'ws-helm';

const Plan = z.looseObject({ sessionP95Seconds: z.number(), graceSeconds: z.number(), from: z.record(z.string(), z.string()) });
const planOf = (annotations: Record<string, string> | undefined) => Plan.parse(JSON.parse(annotations?.['ws-drain/plan'] ?? 'null'));

/** ws-drain's cluster-wide admission objects, by kind (names as in the chart and the base). */
async function admissionObjects(node: RealNode): Promise<string[]> {
  const out = await node.kubectl([
    'get',
    'mutatingwebhookconfigurations,validatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,clusterroles,clusterrolebindings',
    '-o',
    'name',
  ]);
  return out.split('\n').filter((l) => /ws-drain/.test(l));
}

export function helmTests(n: () => RealNode): void {
  describe('installed with Helm (charts/ws-drain, tools/helm)', () => {
    let install: HelmInstall | undefined;
    const installed = (): HelmInstall => {
      if (!install) throw new Error('the Helm install did not happen');
      return install;
    };

    it('helm upgrade --install --wait: images pinned by digest from the node registry, a provided certificate (certManager.enabled=false, tls.caBundle); the webhook pods run as rendered', async () => {
      await removeKustomizeInstall(n());
      // Cluster-wide names are the chart's too: Helm refuses to adopt objects it does not own.
      await waitFor('the kustomize install gone', async () => (await admissionObjects(n())).length === 0, 60_000);
      // The app namespace first, so the webhook's first namespace list has its label and defaults.
      await n().kubectl(['apply', '-f', '-'], {
        input: stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: APPS_NAMESPACE, labels: { 'ws-drain.io/inject': 'enabled' }, annotations: TEST_ANNOTATIONS } }),
      });
      install = await installWithHelm(n(), HELM_NAMESPACE);

      const status = z.object({ version: z.number(), info: z.object({ status: z.string() }) }).parse(JSON.parse(await helmOnNode(n(), ['status', RELEASE, '-n', HELM_NAMESPACE, '-o', 'json'])));
      expect(status).toMatchObject({ version: 1, info: { status: 'deployed' } });
      const pods = z
        .object({ items: z.array(z.looseObject({ spec: z.looseObject({ containers: z.array(z.looseObject({ image: z.string() })) }), status: z.looseObject({ containerStatuses: z.array(z.looseObject({ ready: z.boolean(), imageID: z.string() })) }) })) })
        .parse(JSON.parse(await n().kubectl(['-n', HELM_NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=ws-drain-webhook', '-o', 'json'])));
      expect(pods.items).toHaveLength(2);
      for (const pod of pods.items) {
        expect(pod.spec.containers[0]!.image).toBe(install.webhookImage);
        expect(pod.status.containerStatuses[0]).toMatchObject({ ready: true, imageID: expect.stringContaining(install.webhookImage.split('@')[1]!) });
      }
      // The CA the chart was given, in every entry of both configurations; no cert-manager annotation.
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        const config = z
          .object({ metadata: z.looseObject({ annotations: z.record(z.string(), z.string()).optional(), labels: z.record(z.string(), z.string()) }), webhooks: z.array(z.looseObject({ clientConfig: z.looseObject({ caBundle: z.string(), service: z.looseObject({ namespace: z.string() }) }) })) })
          .parse(JSON.parse(await n().kubectl(['get', kind, 'ws-drain', '-o', 'json'])));
        expect(config.metadata.labels['app.kubernetes.io/managed-by']).toBe('Helm');
        expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
        expect(config.webhooks.length).toBeGreaterThanOrEqual(2);
        for (const w of config.webhooks) expect([w.clientConfig.caBundle, w.clientConfig.service.namespace]).toEqual([install.caBundle, HELM_NAMESPACE]);
      }
    });

    it('a Deployment in a namespace labelled ws-drain.io/inject=enabled, with no ws-drain annotation, is injected with the namespace defaults (the helper by digest)', async () => {
      const helm = installed();
      await applyObjects(n(), await exampleWorkload({ name: APP, namespace: APPS_NAMESPACE, image: n().images.wsEcho, wsDrain: false }));
      const pods = await waitForReady(n(), APPS_NAMESPACE, APP, 2);
      for (const pod of pods) {
        expect(Object.keys(pod.metadata.annotations ?? {}).filter((k) => k.startsWith('ws-drain/') && k !== 'ws-drain/injected' && k !== 'ws-drain/plan')).toEqual([]);
        expect(pod.metadata.annotations?.['ws-drain/injected']).toBeDefined();
        const plan = planOf(pod.metadata.annotations);
        expect(plan.from).toMatchObject({ enabled: 'namespace', 'session-p95': 'namespace', 'prestop-delay': 'namespace', cleanup: 'namespace' });
        expect(plan.sessionP95Seconds).toBe(15);
        expect(pod.spec.terminationGracePeriodSeconds).toBe(plan.graceSeconds);
        expect(pod.spec.initContainers?.map((c) => c['image'])).toEqual([helm.helperImage]);
        expect(((pod.status as Record<string, any>).initContainerStatuses[0].state.terminated.exitCode)).toBe(0);
      }
    });

    it('helm upgrade with a changed value (webhook.defaultSessionP95 5m → 90s) reaches the next admissions', async () => {
      const helm = installed();
      const p95Now = async (): Promise<number> => {
        const { pod, message } = await createPod(n().cp, 'default', optedInPod('helm-upgrade-probe', { 'ws-drain/enabled': 'true' }), { dryRun: true });
        if (!pod) throw new Error(`dry-run create refused: ${message}`);
        const plan = planOf(pod.metadata.annotations);
        expect(plan.from['session-p95']).toBe('default');
        return plan.sessionP95Seconds;
      };
      expect(await p95Now()).toBe(300);
      helm.values = { ...helm.values, webhook: { defaultSessionP95: '90s' } };
      await helmUpgrade(n(), helm);
      const status = z.object({ version: z.number() }).parse(JSON.parse(await helmOnNode(n(), ['status', RELEASE, '-n', HELM_NAMESPACE, '-o', 'json'])));
      expect(status.version).toBe(2);
      // --wait returns once the new pods are Ready; an old one may answer until kube-proxy drops it.
      await waitFor('admissions with the upgraded default', async () => (await p95Now()) === 90, 60_000);
    });

    it('helm uninstall: no webhook configuration, guard or RBAC left; a pod created afterwards is admitted untouched; pods injected before drain cleanly under load', async () => {
      await helmOnNode(n(), ['uninstall', RELEASE, '-n', HELM_NAMESPACE, '--wait', '--timeout', '2m']);
      expect(await admissionObjects(n())).toEqual([]);
      expect((await n().kubectl(['-n', HELM_NAMESPACE, 'get', 'deployments,services,serviceaccounts,poddisruptionbudgets,networkpolicies', '-o', 'name'])).split('\n').filter((l) => /ws-drain/.test(l))).toEqual([]);
      // An opted-in pod: neither injected (no webhook) nor denied (no guard), once
      // the API server's admission caches have seen the deletions.
      const pod = await waitFor('an opted-in pod admitted untouched', async () => {
        const created = await createPod(n().cp, 'default', optedInPod('after-uninstall'), { dryRun: true });
        return created.pod?.metadata.annotations?.['ws-drain/injected'] === undefined ? created.pod : undefined;
      }, 30_000);
      expect(pod.spec.initContainers ?? []).toEqual([]);

      // The pods injected while installed keep their helper (copied into their own volume).
      const before = new Set((await listPods(n(), APPS_NAMESPACE, APP)).map((p) => p.metadata.name));
      const run = await underLoad(n(), {
        namespace: APPS_NAMESPACE,
        app: APP,
        clients: 20,
        replicas: 2,
        disrupt: async (pods) => {
          await n().kubectl(['-n', APPS_NAMESPACE, 'delete', 'pod', pods[0]!.metadata.name, '--wait=false']);
          return [pods[0]!];
        },
      });
      expectCleanDrain(run);
      // Its replacement, created after the uninstall in the opted-in namespace, runs untouched.
      const replacement = (await listPods(n(), APPS_NAMESPACE, APP)).filter((p) => !before.has(p.metadata.name));
      expect(replacement).toHaveLength(1);
      expect(replacement[0]!.metadata.annotations?.['ws-drain/injected']).toBeUndefined();
      expect(replacement[0]!.spec.initContainers ?? []).toEqual([]);
    });
  });
}
