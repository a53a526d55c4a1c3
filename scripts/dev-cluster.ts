// npm run dev:cluster — a throw-away Kubernetes API server with ws-drain
// registered, for trying annotations with kubectl. No nodes, no scheduler:
// pods are stored (and mutated) but never run.
//
// Builds or reuses etcd, kube-apiserver and kubectl (tools/k8s/build.sh), starts
// them on loopback, runs the webhook in this process, registers it through
// manifests/base (MutatingWebhookConfiguration + ValidatingAdmissionPolicy guard),
// writes a kubeconfig, and stops everything on Ctrl-C.
//
// npm run dev:cluster -- --node — a real one-node cluster instead (test/node:
// kubelet, containerd, kube-proxy, a local registry; root and the Debian
// packages in docs/real-node.md), with ws-drain installed by `kubectl apply -k`
// and examples/k8s/ws-echo.yaml runnable as it is: pods run, and a
// `kubectl delete pod` drains for real.
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '../test/e2e/controlplane/binaries.js';
import { startControlPlane, type ControlPlane } from '../test/e2e/controlplane/controlplane.js';
import { createNamespace, waitForInjectionActive } from '../test/e2e/controlplane/pods.js';
import { makeDirectory } from '../src/files/safe-fs.js';
import { applyObjects, loadValidatingPolicy, loadValidatingWebhook } from '../test/e2e/controlplane/registration.js';
import { startRegisteredWebhook, type WsDrainWebhook } from '../test/e2e/controlplane/webhook.js';
import type { RealNode } from '../test/node/node.js';

const cacheRoot = process.env.WS_DRAIN_CACHE ?? join(REPO_ROOT, '.cache');
const stateDir = join(cacheRoot, 'dev-cluster');

async function mainRealNode(): Promise<void> {
  const { startNode } = await import('../test/node/node.js');
  const { installWsDrain } = await import('../test/node/install.js');
  let node: RealNode | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> =>
    (stopping ??= (async () => {
      process.stderr.write('\nstopping the node (pods, kubelet, containerd, control plane) and cleaning up the host…\n');
      await node?.stop();
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));
  try {
    node = await startNode();
    await installWsDrain(node);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    await stop(1);
    return;
  }
  process.stdout.write(
    [
      '',
      `ws-drain dev node is up: kube-apiserver ${node.cp.url}, registry ${node.registry}, ws-drain installed (kubectl apply -k)`,
      `start timings (s): ${JSON.stringify(node.timings)}`,
      '',
      'In another shell:',
      `  export KUBECONFIG=${node.kubeconfig}`,
      `  export PATH=${dirname(node.kubectlPath)}:$PATH`,
      '',
      '  kubectl apply -f examples/k8s/ws-echo.yaml      # ghcr.io/ws-drain/* is mirrored by the local registry',
      '  kubectl get pods -o wide -w',
      '  kubectl delete pod -l app=ws-echo --wait=false; kubectl logs -f -l app=ws-echo   # the helper\'s JSON lines',
      '',
      `Logs: ${node.stateDir}/logs/   Ctrl-C stops everything and cleans up the host.`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  await makeDirectory(stateDir);
  let cp: ControlPlane | undefined;
  let webhook: WsDrainWebhook | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> =>
    (stopping ??= (async () => {
      process.stderr.write('\nstopping webhook, kube-apiserver and etcd…\n');
      await webhook?.running.close();
      await cp?.stop();
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));

  try {
    cp = await startControlPlane({ workDir: stateDir });
    // One JSON line per admission, kept out of the instructions printed below.
    webhook = await startRegisteredWebhook(cp, { logLevel: 'info', logFile: join(stateDir, 'webhook.log') });
    await applyObjects(cp, await loadValidatingPolicy());
    // Workload templates judged at kubectl apply (POST /validate), as manifests/base registers it.
    await applyObjects(cp, [await loadValidatingWebhook(webhook.url.replace(/\/mutate$/, '/validate'), webhook.caPem)]);
    await createNamespace(cp, 'ws-drain-system');
    await waitForInjectionActive(cp, 'default');
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    await stop(1);
    return;
  }

  const kubeconfig = join(stateDir, 'kubeconfig');
  await writeFile(kubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
  const rel = (p: string): string => (p.startsWith(REPO_ROOT) ? relative(process.cwd(), p) || '.' : p);
  process.stdout.write(
    [
      '',
      `ws-drain dev cluster is up: kube-apiserver ${cp.url}, webhook ${webhook.url}`,
      '(no nodes or controllers: pods are admitted, mutated and stored, never run)',
      '',
      'In another shell:',
      `  export KUBECONFIG=${kubeconfig}`,
      `  export PATH=${cp.binaries.dir}:$PATH     # kubectl built alongside kube-apiserver`,
      '',
      '  kubectl run ws --image=ghcr.io/ws-drain/ws-echo:0.1.0 --port=8080 --annotations=ws-drain/session-p95=2m',
      "  kubectl get pod ws -o jsonpath='{.metadata.annotations.ws-drain/plan}'; echo",
      '  kubectl get pod ws -o yaml              # init container, preStop, grace period',
      '  kubectl run bad --image=x --annotations=ws-drain/session-p95=5minutes   # denied, with the reason',
      '',
      'Deployments need a controller-manager to make pods, which this cluster lacks; see what their pods get with',
      `  npx tsx src/cli/main.ts inject -f ${rel(join(REPO_ROOT, 'examples/k8s/ws-echo.yaml'))}`,
      '',
      `Logs: ${rel(stateDir)}/{etcd,kube-apiserver,webhook}.log   Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );
}

void (process.argv.includes('--node') ? mainRealNode() : main());
