// Finds the ws-drain install in a snapshot: its webhook entries, the Service
// and Deployment behind them, and the settings that Deployment runs with, read
// through the same flag parser `ws-drain serve` uses so plans are computed
// with the deployed webhook's numbers.
import { CONFIG_FLAGS, configFromFlags, type FlagValues } from '../cli/flags.js';
import { DEFAULT_CONFIG } from '../core/config.js';
import type { MutatingWebhookConfiguration, Service, WebhookEntry, Workload } from './objects.js';
import { serviceSelects } from './selectors.js';
import type { ConfigSource, Snapshot } from './snapshot.js';

/** Name of the webhook entry in manifests/base/mutating-webhook.yaml; any *.ws-drain.io entry counts. */
export const WEBHOOK_NAME_SUFFIX = 'ws-drain.io';
export const GUARD_POLICY_NAME = 'ws-drain-require-injection';

export interface InstalledWebhook {
  config: MutatingWebhookConfiguration;
  webhook: WebhookEntry;
}

export function wsDrainWebhooks(snapshot: Snapshot): InstalledWebhook[] {
  const out: InstalledWebhook[] = [];
  for (const config of snapshot.webhookConfigs) {
    for (const webhook of config.webhooks ?? []) {
      if (webhook.name === WEBHOOK_NAME_SUFFIX || webhook.name.endsWith(`.${WEBHOOK_NAME_SUFFIX}`)) out.push({ config, webhook });
    }
  }
  return out;
}

/** Entries of one configuration with the same clientConfig: one endpoint, probed and reported once. */
export function sameEndpointGroups(webhooks: readonly InstalledWebhook[]): Array<InstalledWebhook & { names: string[] }> {
  const groups = new Map<string, InstalledWebhook & { names: string[] }>();
  for (const w of webhooks) {
    const key = `${w.config.metadata.name}\n${JSON.stringify(w.webhook.clientConfig)}`;
    const group = groups.get(key);
    if (group) group.names.push(w.webhook.name);
    else groups.set(key, { ...w, names: [w.webhook.name] });
  }
  return [...groups.values()];
}

export function findService(snapshot: Snapshot, namespace: string, name: string): Service | undefined {
  return snapshot.services.find((s) => s.metadata.namespace === namespace && s.metadata.name === name);
}

/** The Deployment whose pods the webhook Service selects. */
export function webhookDeployment(snapshot: Snapshot, service: Service): Workload | undefined {
  return snapshot.deployments.find(
    (d) => d.metadata.namespace === service.metadata.namespace && serviceSelects(service.spec.selector, d.spec.template.metadata?.labels),
  );
}

/** The tag of an image reference ("ghcr.io/x/y:0.1.0" → "0.1.0"); undefined for digests or no tag. */
export function imageTag(image: string | undefined): string | undefined {
  if (!image || image.includes('@')) return undefined;
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : undefined;
}

/** The settings of the webhook container: its WS_DRAIN_* env and its flags, flags winning (as in `serve`). */
export function configFromDeployment(deployment: Workload): ConfigSource {
  const container = deployment.spec.template.spec.containers[0];
  const values: FlagValues = {};
  const env = new Map((container?.env ?? []).map((e) => [e.name, e.value ?? undefined]));
  const args = [...(container?.command ?? []), ...(container?.args ?? [])];
  for (const spec of CONFIG_FLAGS) {
    const fromEnv = spec.env ? env.get(spec.env) : undefined;
    if (fromEnv !== undefined && fromEnv !== '') values[spec.name] = fromEnv;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg.startsWith(`--${spec.name}=`)) values[spec.name] = arg.slice(spec.name.length + 3);
      else if (arg === `--${spec.name}` && i + 1 < args.length) values[spec.name] = args[i + 1]!;
    }
  }
  const ns = deployment.metadata.namespace ?? 'default';
  // The server always adds its own namespace (POD_NAMESPACE) to the exclusions.
  const config = configFromFlags(values, [ns]);
  const version = imageTag(container?.image);
  return {
    config: version ? { ...config, helperVersion: version } : config,
    source: `Deployment ${ns}/${deployment.metadata.name}`,
  };
}

export interface InstallView {
  webhooks: InstalledWebhook[];
  deployment?: Workload;
  configSource: ConfigSource;
  /** The version the webhook writes into ws-drain/injected. */
  expectedHelperVersion: string;
  /** Tag of the webhook image, when its Deployment was found. */
  webhookVersion?: string;
}

/**
 * What check knows about the install. Without a webhook Deployment (a URL
 * clientConfig, or no permission to read it) the CLI's own flags stand in for
 * the webhook's settings, and the report says so.
 */
export function readInstall(snapshot: Snapshot, fallback: ConfigSource): InstallView {
  const webhooks = wsDrainWebhooks(snapshot);
  let deployment: Workload | undefined;
  for (const { webhook } of webhooks) {
    const ref = webhook.clientConfig.service;
    const service = ref ? findService(snapshot, ref.namespace, ref.name) : undefined;
    deployment = service ? webhookDeployment(snapshot, service) : undefined;
    if (deployment) break;
  }
  let configSource = fallback;
  if (deployment) {
    try {
      configSource = configFromDeployment(deployment);
    } catch (err) {
      configSource = { ...fallback, source: `${fallback.source} (the webhook Deployment's settings could not be read: ${(err as Error).message})` };
    }
  }
  const webhookVersion = deployment ? imageTag(deployment.spec.template.spec.containers[0]?.image) : undefined;
  return {
    webhooks,
    ...(deployment ? { deployment } : {}),
    configSource,
    expectedHelperVersion: webhookVersion ?? fallback.config.helperVersion ?? DEFAULT_CONFIG.helperVersion,
    ...(webhookVersion ? { webhookVersion } : {}),
  };
}

/**
 * Compares dotted versions numerically ("0.10.0" > "0.9.1"); a pre-release
 * suffix sorts before its release. Undefined when either is not a version.
 */
export function compareVersions(a: string, b: string): number | undefined {
  const parse = (v: string) => /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(v);
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return undefined;
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return Math.sign(d);
  }
  if (x[4] === y[4]) return 0;
  if (x[4] === undefined) return 1;
  if (y[4] === undefined) return -1;
  return x[4] < y[4] ? -1 : 1;
}
