// Installs ws-drain on the real node the way users do: `kubectl apply -k` of
// manifests/base, through test/node/overlay (which drops the cert-manager
// objects) and a per-run overlay written here that supplies what cert-manager
// and a release registry would: the serving certificate Secret, the webhook
// configuration's caBundle, and the images in the node's local registry.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { REPO_ROOT } from '../e2e/controlplane/binaries.js';
import { waitForInjectionActive } from '../e2e/controlplane/pods.js';
import type { RealNode } from './node.js';

export const WEBHOOK_NAMESPACE = 'ws-drain-system';
/** The names the API server dials for the Service-referenced webhook (as manifests/base/certificates.yaml). */
const SERVICE_DNS = ['ws-drain-webhook.ws-drain-system.svc', 'ws-drain-webhook.ws-drain-system.svc.cluster.local'];

/** name:tag split of a registry reference whose host has a port (127.0.0.1:5000/ws-drain/x:tag). */
function splitRef(ref: string): { name: string; tag: string } {
  const at = ref.lastIndexOf(':');
  return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
}

/** Writes the per-run overlay; returns its folder (for `kubectl apply -k`). */
export async function writeInstallOverlay(node: RealNode): Promise<string> {
  const dir = join(node.stateDir, 'install');
  await mkdir(dir, { recursive: true });
  const certs = await generateDevCerts({ hosts: SERVICE_DNS, commonName: SERVICE_DNS[0] });
  await writeFile(join(dir, 'tls.crt'), certs.tlsCert);
  await writeFile(join(dir, 'tls.key'), certs.tlsKey, { mode: 0o600 });
  await writeFile(join(dir, 'ca.crt'), certs.caCert);
  const webhook = splitRef(node.images.webhook);
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // kustomize takes no absolute resource paths; a relative one may leave the folder.
    resources: [relative(dir, join(REPO_ROOT, 'test/node/overlay'))],
    images: [{ name: 'ghcr.io/ws-drain/ws-drain-webhook', newName: webhook.name, newTag: webhook.tag }],
    // What cert-manager's Certificate ws-drain-webhook would write.
    secretGenerator: [
      { name: 'ws-drain-webhook-tls', namespace: WEBHOOK_NAMESPACE, type: 'kubernetes.io/tls', files: ['tls.crt', 'tls.key', 'ca.crt'] },
    ],
    generatorOptions: { disableNameSuffixHash: true },
    patches: [
      // What cainjector would write.
      {
        target: { kind: 'MutatingWebhookConfiguration', name: 'ws-drain' },
        // Every entry (one per way of opting in: pod annotation, namespace label).
        patch: stringify([0, 1].map((i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: Buffer.from(certs.caCert).toString('base64') }))),
      },
      // The helper image the webhook injects, from the local registry.
      {
        target: { kind: 'Deployment', name: 'ws-drain-webhook' },
        patch: stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'ws-drain-webhook', namespace: WEBHOOK_NAMESPACE },
          spec: { template: { spec: { containers: [{ name: 'webhook', env: [{ name: 'WS_DRAIN_HELPER_IMAGE', value: node.images.helper }] }] } } },
        }),
      },
    ],
  };
  await writeFile(join(dir, 'kustomization.yaml'), stringify(kustomization));
  return dir;
}

/** `kubectl apply -k`, the webhook Deployment rolled out, and injection seen on a dry-run pod. */
export async function installWsDrain(node: RealNode): Promise<void> {
  const started = Date.now();
  const dir = await writeInstallOverlay(node);
  await node.kubectl(['apply', '-k', dir]);
  await node.kubectl(['-n', WEBHOOK_NAMESPACE, 'rollout', 'status', 'deployment/ws-drain-webhook', '--timeout=180s'], { timeoutMs: 200_000 });
  await waitForInjectionActive(node.cp, 'default');
  node.timings['install ws-drain'] = (Date.now() - started) / 1000;
  process.stderr.write(`[node] ws-drain installed in ${node.timings['install ws-drain']!.toFixed(1)}s\n`);
}
