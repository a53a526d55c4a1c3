// The set-up every admission suite shares: a control plane, the webhook
// registered through manifests/base, namespaces created, and injection known
// to be active before the first test. Torn down after the suite, also when it fails.
import { afterAll, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane } from './controlplane.js';
import { createNamespace, waitForInjectionActive } from './pods.js';
import { startRegisteredWebhook, type WsDrainWebhook } from './webhook.js';

export interface WebhookCluster {
  cp: ControlPlane;
  /** Replaceable: outage tests stop it and register a new one. */
  webhook: WsDrainWebhook;
}

/**
 * Registers beforeAll/afterAll hooks and returns the cluster they fill in
 * (read its fields inside tests and later hooks, not at module load).
 */
export function useWebhookCluster(namespace: string, options: Parameters<typeof startRegisteredWebhook>[1] = {}): WebhookCluster {
  const cluster = {} as WebhookCluster;
  beforeAll(async () => {
    cluster.cp = await startControlPlane();
    cluster.webhook = await startRegisteredWebhook(cluster.cp, options);
    await createNamespace(cluster.cp, namespace);
    await waitForInjectionActive(cluster.cp, namespace);
  });
  afterAll(async () => {
    await cluster.webhook?.stop();
    await cluster.cp?.stop();
  });
  return cluster;
}
