import type { WebhookConfig } from './types.js';
import { VERSION } from './version.js';

/**
 * Defaults for flags and env. Functions in src/core always receive a config
 * explicitly; this value is only what the CLI and server start from.
 */
export const DEFAULT_CONFIG: WebhookConfig = {
  helperImage: `ghcr.io/ws-drain/ws-drain-helper:${VERSION}`,
  helperVersion: VERSION,
  maxGraceSeconds: 3600,
  defaultSessionP95Seconds: 300,
  defaultPrestopDelaySeconds: 20,
  defaultCleanupSeconds: 10,
  defaultMargin: 0.3,
  excludeNamespaces: ['kube-system', 'ws-drain-system'],
};

/** kube-system is never touched, whatever the configured list says. */
export const ALWAYS_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];
