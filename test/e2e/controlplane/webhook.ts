import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateDevCerts } from '../../../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../../../src/core/config.js';
import type { WebhookConfig } from '../../../src/core/types.js';
import { createLogger, type LogLevel } from '../../../src/server/logger.js';
import { startWebhook, type RunningWebhook, type WebhookOptions } from '../../../src/server/serve.js';
import type { ControlPlane } from './controlplane.js';
import { applyObjects, deleteObjects, loadMutatingWebhook, type MutatingWebhookConfigurationObject } from './registration.js';

export interface WsDrainWebhook {
  running: RunningWebhook;
  url: string;
  caPem: string;
  registration: MutatingWebhookConfigurationObject;
  /** Removes the MutatingWebhookConfiguration and stops the server. */
  stop(): Promise<void>;
}

/**
 * Runs the real webhook server (src/server/serve.ts) in this process on
 * 127.0.0.1 with a fresh CA and serving certificate, and registers it with the
 * API server through manifests/base/mutating-webhook.yaml. Without
 * `namespaces` it runs as `serve --namespace-source=none`; with it, its
 * namespace informer reads that cluster (test/e2e/namespaces.test.ts).
 */
export async function startRegisteredWebhook(
  cp: ControlPlane,
  opts: { config?: Partial<WebhookConfig>; logLevel?: LogLevel; logFile?: string; namespaces?: WebhookOptions['namespaces']; reviewPool?: WebhookOptions['reviewPool'] } = {},
): Promise<WsDrainWebhook> {
  const certs = await generateDevCerts({ hosts: ['127.0.0.1'], commonName: 'ws-drain-e2e-webhook' });
  const dir = join(cp.workDir, 'webhook');
  await mkdir(dir, { recursive: true });
  const tlsCertFile = join(dir, 'tls.crt');
  const tlsKeyFile = join(dir, 'tls.key');
  await writeFile(tlsCertFile, certs.tlsCert);
  await writeFile(tlsKeyFile, certs.tlsKey, { mode: 0o600 });

  const running = await startWebhook({
    config: { ...DEFAULT_CONFIG, ...opts.config },
    tlsCertFile,
    tlsKeyFile,
    port: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    logger: createLogger(opts.logLevel ?? 'warn', opts.logFile ?? 2),
    shutdownTimeoutMs: 2_000,
    ...(opts.namespaces ? { namespaces: opts.namespaces } : {}),
    ...(opts.reviewPool ? { reviewPool: opts.reviewPool } : {}),
  });
  const url = `https://127.0.0.1:${running.port}/mutate`;
  const registration = await loadMutatingWebhook(url, certs.caCert);
  try {
    await applyObjects(cp, [registration]);
  } catch (err) {
    await running.close();
    throw err;
  }
  return {
    running,
    url,
    caPem: certs.caCert,
    registration,
    async stop() {
      await deleteObjects(cp, [registration]);
      await running.close();
    },
  };
}
