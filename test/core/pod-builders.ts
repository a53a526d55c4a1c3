// Small builders for test pods: real Pod shapes, only the fields a test cares about.
import type { WebhookConfig } from '../../src/core/types.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';

export type Json = Record<string, unknown>;

export const CONFIG: WebhookConfig = { ...DEFAULT_CONFIG, excludeNamespaces: [...DEFAULT_CONFIG.excludeNamespaces] };

export function container(name: string, extra: Json = {}): Json {
  return { name, image: `registry.example/${name}:1`, ...extra };
}

export function tcp(port: number, name?: string): Json {
  return name ? { containerPort: port, name } : { containerPort: port };
}

export function pod(annotations: Record<string, string> | undefined, spec: Json, name = 'p'): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: annotations ? { name, annotations } : { name },
    spec,
  };
}

/** One opted-in container `web` listening on 8080. */
export function webPod(annotations: Record<string, string> = { 'ws-drain/session-p95': '5m' }, extra: Json = {}): Json {
  return pod(annotations, { containers: [container('web', { ports: [tcp(8080, 'http')], ...extra })] });
}
