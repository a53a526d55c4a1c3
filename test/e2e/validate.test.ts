// POST /validate through a real kube-apiserver and the real kubectl: a
// Deployment whose pod template would be denied fails at `kubectl apply` (and
// --dry-run=server) with the pod's message; a good one shows ws-drain's
// warnings to the person applying it. Registered from manifests/base/validating-webhook.yaml.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './controlplane/pods.js';
import { applyObjects, loadValidatingWebhook } from './controlplane/registration.js';
import { runProcess, type Run } from './controlplane/run.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-validate';
const cluster = useWebhookCluster(NS);
let kubeconfig = '';

function kubectl(args: string[], stdin?: string): Promise<Run> {
  return runProcess(cluster.cp.binaries.kubectl, ['--kubeconfig', kubeconfig, '-n', NS, ...args], { stdin });
}

function deployment(name: string, templateAnnotations: Record<string, string>, own: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, annotations: own },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: templateAnnotations },
        spec: { containers: [{ name: 'chat', image: 'registry.example/chat:1', ports: [{ containerPort: 8080 }] }] },
      },
    },
  });
}

const TYPO_MESSAGE = 'unknown annotation "ws-drain/sesion-p95": did you mean ws-drain/session-p95?';

beforeAll(async () => {
  kubeconfig = join(cluster.cp.workDir, 'validate-kubeconfig.yaml');
  await writeFile(kubeconfig, cluster.cp.kubeconfigYaml(), { mode: 0o600 });
  // Stored before /validate is registered: an existing Deployment whose template is already bad.
  const stored = await kubectl(['apply', '-f', '-'], deployment('stored-bad', { 'ws-drain/sesion-p95': '1m' }));
  expect(stored.code, stored.stderr).toBe(0);
  const url = `https://127.0.0.1:${cluster.webhook.running.port}/validate`;
  await applyObjects(cluster.cp, [await loadValidatingWebhook(url, cluster.webhook.caPem)]);
  // Webhook configurations reach admission through an informer: wait until it answers.
  await eventually(
    'validating webhook active',
    async () => {
      const probe = await kubectl(['apply', '--dry-run=server', '-f', '-'], deployment('probe', { 'ws-drain/sesion-p95': '1m' }));
      return probe.code !== 0 && probe.stderr.includes('validate.ws-drain.io') ? true : undefined;
    },
    60_000,
  );
});

describe('kubectl apply of workloads', () => {
  it.each([
    { mode: 'kubectl apply --dry-run=server', flags: ['--dry-run=server'] },
    { mode: 'kubectl apply', flags: [] },
  ])('a bad Deployment fails with the message its pods would get ($mode)', async ({ flags }) => {
    const r = await kubectl(['apply', ...flags, '-f', '-'], deployment('bad', { 'ws-drain/sesion-p95': '1m' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('admission webhook "validate.ws-drain.io" denied the request');
    expect(r.stderr).toContain(TYPO_MESSAGE);
    const get = await kubectl(['get', 'deployment', 'bad']);
    expect(get.code).toBe(1);
  });

  it('a good Deployment is applied unchanged, and the person applying it sees the warnings', async () => {
    const r = await kubectl(['apply', '-f', '-'], deployment('good', { 'ws-drain/session-p95': '1m' }));
    expect(r.code, r.stderr).toBe(0);
    // (20 + 60 + 10) × 1.3 = 117
    expect(r.stderr).toContain('Warning: ws-drain: terminationGracePeriodSeconds raised from 30 to 117 for the drain plan');
    const get = await kubectl(['get', 'deployment', 'good', '-o', 'json']);
    const stored = JSON.parse(get.stdout) as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> } } };
    // Validation never mutates: injection happens per pod.
    expect(stored.spec.template.metadata.annotations).toEqual({ 'ws-drain/session-p95': '1m' });
    expect(stored.spec.template.spec['initContainers']).toBeUndefined();
  });

  it('annotations on the Deployment instead of its template: applied, with a warning naming the fix', async () => {
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], deployment('misplaced', {}, { 'ws-drain/session-p95': '5m' }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Warning: ws-drain: ws-drain/session-p95 on the Deployment itself is not read: move it to spec.template.metadata.annotations");
  });

  it('a CronJob is judged through spec.jobTemplate', async () => {
    const cronjob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly' },
      spec: {
        schedule: '0 3 * * *',
        jobTemplate: {
          spec: {
            template: {
              metadata: { annotations: { 'ws-drain/session-p95': 'soon' } },
              spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'registry.example/job:1', ports: [{ containerPort: 8080 }] }] },
            },
          },
        },
      },
    };
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(cronjob));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ws-drain/session-p95: "soon" is not a duration');
  });

  it('an update that leaves a bad template as it was is allowed with a warning; changing the template to another bad one is denied', async () => {
    const label = await kubectl(['label', 'deployment', 'stored-bad', 'team=chat']);
    expect(label.code, label.stderr).toBe(0);
    expect(label.stderr).toContain('Warning: ws-drain: pod template unchanged, but its pods would be denied');
    const changed = await kubectl(['apply', '-f', '-'], deployment('stored-bad', { 'ws-drain/sesion-p95': '2m' }));
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(TYPO_MESSAGE);
  });

  it('workloads without ws-drain/ annotations are never sent (matchConditions)', async () => {
    const before = await cluster.cp.request('GET', '/metrics');
    const plain = await kubectl(['apply', '-f', '-'], deployment('plain', {}));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('');
    const after = await cluster.cp.request('GET', '/metrics');
    const calls = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('apiserver_admission_webhook_admission_duration_seconds_count') && l.includes('name="validate.ws-drain.io"') && l.includes('operation="CREATE"'))
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    expect(calls(after.body)).toBe(calls(before.body));
  });
});
