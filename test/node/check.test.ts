// `ws-drain check` against ws-drain installed for real (kubectl apply -k on the
// real node: the webhook Deployment behind its Service, EndpointSlices from the
// controller, pod IPs on the CNI bridge). check runs where the node runs, so
// it reaches the webhook pod directly and verifies the certificate it serves
// against the caBundle, with the Service DNS name, as the API server does.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/check/report.js';
import { REPO_ROOT } from '../e2e/controlplane/binaries.js';
import { runProcess } from '../e2e/controlplane/run.js';
import { installWsDrain } from './install.js';
import { startNode, type RealNode } from './node.js';
import { applyObjects, exampleWorkload, waitForReady } from './workload.js';

let node: RealNode | undefined;

beforeAll(async () => {
  node = await startNode();
  await installWsDrain(node);
  await applyObjects(node, await exampleWorkload({ name: 'ws-check', namespace: 'default', image: node.images.wsEcho, wsDrain: true }));
  await waitForReady(node, 'default', 'ws-check', 2);
});

afterAll(async () => {
  await node?.stop();
});

describe('ws-drain check on a real node', () => {
  it('finds the install healthy: the served certificate verified at the webhook pod, plans as the pods carry them', async () => {
    const n = node!;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WS_DRAIN_') && k !== 'KUBECONFIG'));
    const run = await runProcess(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'check', '--kubeconfig', n.kubeconfig, '-n', 'default', '-o', 'json'], { cwd: REPO_ROOT, env });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as CheckReport;
    const table = await runProcess(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'check', '--kubeconfig', n.kubeconfig, '-n', 'default', '-o', 'wide'], { cwd: REPO_ROOT, env });
    process.stderr.write(`[node] ws-drain check -n default -o wide:\n${table.stdout}\n`);
    await writeFile(join(n.stateDir, 'check-report.json'), run.stdout);

    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.configSource).toBe('Deployment ws-drain-system/ws-drain-webhook');
    const probe = report.webhooks.find((w) => w.configName === 'ws-drain');
    expect(probe).toMatchObject({ method: 'direct', serverName: 'ws-drain-webhook.ws-drain-system.svc', verified: true });
    const pods = JSON.parse(await n.kubectl(['-n', 'default', 'get', 'pods', '-l', 'app=ws-check', '-o', 'json'])) as { items: Array<{ status: { podIP: string }; spec: { terminationGracePeriodSeconds: number } }> };
    const webhookPods = JSON.parse(await n.kubectl(['-n', 'ws-drain-system', 'get', 'pods', '-o', 'json'])) as { items: Array<{ status: { podIP: string } }> };
    expect(webhookPods.items.map((p) => `${p.status.podIP}:8443`)).toContain(probe!.target);
    const workload = report.workloads.find((w) => w.object.kind === 'Deployment' && w.object.name === 'ws-check');
    expect(workload?.plan?.graceSeconds).toBe(pods.items[0]!.spec.terminationGracePeriodSeconds);
    expect(workload?.services.map((s) => s.name)).toContain('ws-check');
  });
});
