// failurePolicy: Ignore keeps pod creation working while the webhook is down;
// the ValidatingAdmissionPolicy guard from manifests/base then refuses opted-in
// pods that slipped through un-injected.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from '../manifests/render.js';
import { INIT_CONTAINER_NAME, INJECTED_ANNOTATION } from '../../src/core/types.js';
import { createPod, eventually, getPod, optedInPod, waitForInjectionActive } from './controlplane/pods.js';
import { parsePrometheusText, type Sample } from './controlplane/prometheus.js';
import { applyObjects, loadValidatingPolicy } from './controlplane/registration.js';
import { startRegisteredWebhook } from './controlplane/webhook.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-failure';

const cluster = useWebhookCluster(NS);

describe('webhook outage', () => {
  it('admits an opted-in pod without injection while the webhook is down (failurePolicy: Ignore)', async () => {
    // The registration stays and points at a port nobody listens on any more.
    await cluster.webhook?.running.close();
    const created = await createPod(cluster.cp, NS, optedInPod('while-down'));
    expect(created.response.status, created.message).toBe(201);
    const stored = await getPod(cluster.cp, NS, 'while-down');
    expect(stored?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
    expect(stored?.spec.initContainers ?? []).toHaveLength(0);
    expect(stored?.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it('the ValidatingAdmissionPolicy guard denies an opted-in pod that was not injected', async () => {
    await applyObjects(cluster.cp, await loadValidatingPolicy());
    // Policies reach the admission chain through an informer: poll until it bites.
    const denial = await eventually(
      'ValidatingAdmissionPolicy ws-drain-require-injection active',
      async () => {
        const probe = await createPod(cluster.cp, NS, optedInPod('probe-guard'), { dryRun: true });
        return probe.response.status >= 400 ? probe : undefined;
      },
      60_000,
    );
    expect(denial.message).toContain('ws-drain-require-injection');

    const created = await createPod(cluster.cp, NS, optedInPod('guarded'));
    expect(created.response.status).toBeGreaterThanOrEqual(400);
    expect(created.message).toContain(INJECTED_ANNOTATION);
    expect(await getPod(cluster.cp, NS, 'guarded')).toBeUndefined();
  });

  // The alerts on this outage (manifests/components/monitoring) select API
  // server series by name and labels: the real API server must report the
  // outage under exactly those, or the alerts could never fire.
  it.each(['WsDrainWebhookUnreachable', 'WsDrainInjectionGuardDenying'])('%s: its series selector matches what the API server counted', async (alert) => {
    const Rules = z.object({ spec: z.object({ groups: z.array(z.object({ rules: z.array(z.looseObject({ alert: z.string(), expr: z.string() })) })) }) });
    const file = await readFile(join(REPO_ROOT, 'manifests/components/monitoring/prometheus-rule.yaml'), 'utf8');
    const rule = Rules.parse(parseYaml(file)).spec.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    if (rule === undefined) throw new Error(`no alert ${alert}`);
    const selector = /(apiserver_[a-z_]+)\{([^}]*)\}/.exec(rule.expr);
    if (selector === null) throw new Error(`${alert}: no apiserver_* selector in ${rule.expr}`);
    const [, name = '', matchers = ''] = selector;
    const matches = (s: Sample): boolean =>
      s.name === name &&
      [...matchers.matchAll(/\s*(\w+)\s*(=~|!=|=)\s*"([^"]*)"/g)].every(([, label = '', op, value = '']) => {
        const actual = s.labels[label] ?? '';
        if (op === '=~') return new RegExp(`^(?:${value})$`).test(actual);
        return op === '=' ? actual === value : actual !== value;
      });
    const res = await cluster.cp.request('GET', '/metrics');
    expect(res.status).toBe(200);
    const counted = parsePrometheusText(res.body).filter(matches).reduce((sum, s) => sum + s.value, 0);
    expect(counted, `${name}{${matchers}}`).toBeGreaterThan(0);
  });

  it('the guard leaves pods alone that did not opt in or opted out', async () => {
    const plain = await createPod(cluster.cp, NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'app', image: 'x' }] } });
    expect(plain.response.status, plain.message).toBe(201);
    const optedOut = await createPod(cluster.cp, NS, optedInPod('opted-out', { 'ws-drain/session-p95': '2m', 'ws-drain/enabled': 'false' }));
    expect(optedOut.response.status, optedOut.message).toBe(201);
  });

  it('once the webhook is back, opted-in pods are injected and pass the guard', async () => {
    cluster.webhook = await startRegisteredWebhook(cluster.cp);
    await waitForInjectionActive(cluster.cp, NS);
    const created = await createPod(cluster.cp, NS, optedInPod('after-recovery'));
    expect(created.response.status, created.message).toBe(201);
    expect(created.pod?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeTruthy();
    expect(created.pod?.spec.initContainers?.map((c) => c.name)).toEqual([INIT_CONTAINER_NAME]);
  });
});
