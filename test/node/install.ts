// Installs ws-drain on the real node the way users do, in either of the two
// supported ways:
// - `kubectl apply -k` of manifests/base, through test/node/overlay (which
//   drops the cert-manager objects) and a per-run overlay written here that
//   supplies what cert-manager and a release registry would: the serving
//   certificate Secret, the webhook configurations' caBundle, and the images
//   in the node's local registry;
// - `helm upgrade --install --wait` of charts/ws-drain with the Helm built by
//   tools/helm, the chart's no-cert-manager path (a Secret the user creates,
//   `certManager.enabled: false`, `tls.caBundle`) and the images pinned by
//   digest, as tools/release/pin.sh writes values-pinned.yaml.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { REPO_ROOT } from '../e2e/controlplane/binaries.js';
import { waitForInjectionActive } from '../e2e/controlplane/pods.js';
import { CHART_DIR, helm, RELEASE } from '../manifests/helm.js';
import type { RealNode } from './node.js';

export const WEBHOOK_NAMESPACE = 'ws-drain-system';
/** The names the API server dials for the Service-referenced webhook (as manifests/base/certificates.yaml). */
const SERVICE_DNS = ['ws-drain-webhook.ws-drain-system.svc', 'ws-drain-webhook.ws-drain-system.svc.cluster.local'];

/** The base's webhook configurations, whose entries cainjector fills with the CA. */
const WEBHOOK_FILES = {
  MutatingWebhookConfiguration: 'manifests/base/mutating-webhook.yaml',
  ValidatingWebhookConfiguration: 'manifests/base/validating-webhook.yaml',
};
async function webhookEntries(file: string): Promise<unknown[]> {
  const doc = parse(await readFile(join(REPO_ROOT, file), 'utf8')) as { webhooks?: unknown[] };
  if (!doc.webhooks?.length) throw new Error(`${file}: no webhooks`);
  return doc.webhooks;
}

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
      // What cainjector would write, into both configurations (cert-manager.io/inject-ca-from on each).
      ...(await Promise.all(
        Object.entries(WEBHOOK_FILES).map(async ([kind, file]) => ({
          target: { kind, name: 'ws-drain' },
          // Every entry (one per way of opting in, and the Namespace check).
          patch: stringify((await webhookEntries(file)).map((_, i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: Buffer.from(certs.caCert).toString('base64') }))),
        })),
      )),
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

/** `kubectl delete -k` of the kustomize install: its cluster-wide objects go at once, its namespace in the background. */
export async function removeKustomizeInstall(node: RealNode): Promise<void> {
  await node.kubectl(['delete', '-k', join(node.stateDir, 'install'), '--ignore-not-found', '--wait=false']);
}

/** repository and the sha256 digest the registry serves for a `host:port/name:tag` reference. */
export async function registryDigest(ref: string): Promise<{ repository: string; digest: string }> {
  const { name, tag } = splitRef(ref);
  const slash = name.indexOf('/');
  const accept = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ].join(', ');
  const res = await fetch(`http://${name.slice(0, slash)}/v2/${name.slice(slash + 1)}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: accept } });
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest?.startsWith('sha256:')) throw new Error(`registry: no digest for ${ref} (HTTP ${res.status})`);
  return { repository: name, digest };
}

export interface HelmInstall {
  namespace: string;
  /** The values given to helm (change and pass to helmUpgrade). */
  values: Record<string, any>;
  /** repository@digest of the two images, as the chart renders them. */
  webhookImage: string;
  helperImage: string;
  caBundle: string;
}

/** Helm, the tools/helm build, against the node's API server; fails with Helm's message. */
export async function helmOnNode(node: RealNode, args: string[], values?: Record<string, unknown>): Promise<string> {
  const run = await helm(args, values, { KUBECONFIG: node.kubeconfig });
  if (run.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${String(run.code ?? run.signal)}):\n${run.stderr.trim()}`);
  return run.stdout;
}

/** `helm upgrade --install --wait`; resolves once the API server calls the new webhook. */
export async function helmUpgrade(node: RealNode, install: HelmInstall): Promise<void> {
  await helmOnNode(node, ['upgrade', '--install', RELEASE, CHART_DIR, '--namespace', install.namespace, '--values', '{values}', '--wait', '--timeout', '5m'], install.values);
}

/**
 * As docs/helm.md says for clusters without cert-manager: the namespace
 * (Pod Security restricted), a kubernetes.io/tls Secret for
 * ws-drain-webhook.<namespace>.svc, then the chart with its CA in
 * tls.caBundle and the images pinned by digest.
 */
export async function installWithHelm(node: RealNode, namespace: string): Promise<HelmInstall> {
  const started = Date.now();
  await node.kubectl(['create', 'namespace', namespace]);
  await node.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
  const dir = join(node.stateDir, 'helm');
  await mkdir(dir, { recursive: true });
  const hosts = [`ws-drain-webhook.${namespace}.svc`, `ws-drain-webhook.${namespace}.svc.cluster.local`];
  const certs = await generateDevCerts({ hosts, commonName: hosts[0]! });
  await writeFile(join(dir, 'tls.crt'), certs.tlsCert);
  await writeFile(join(dir, 'tls.key'), certs.tlsKey, { mode: 0o600 });
  await node.kubectl(['-n', namespace, 'create', 'secret', 'tls', 'ws-drain-webhook-tls', `--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`]);
  const [webhook, helper] = await Promise.all([registryDigest(node.images.webhook), registryDigest(node.images.helper)]);
  const caBundle = Buffer.from(certs.caCert).toString('base64');
  const install: HelmInstall = {
    namespace,
    values: { image: webhook, helperImage: helper, certManager: { enabled: false }, tls: { caBundle } },
    webhookImage: `${webhook.repository}@${webhook.digest}`,
    helperImage: `${helper.repository}@${helper.digest}`,
    caBundle,
  };
  await helmUpgrade(node, install);
  await waitForInjectionActive(node.cp, 'default');
  node.timings['helm install'] = (Date.now() - started) / 1000;
  process.stderr.write(`[node] ws-drain installed with Helm in ${node.timings['helm install']!.toFixed(1)}s\n`);
  return install;
}
