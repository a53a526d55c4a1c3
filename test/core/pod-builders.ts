// Small builders for test pods: real Pod shapes, only the fields a test cares about.
import type { Decision, WebhookConfig } from '../../src/core/types.js';
import { decide } from '../../src/core/decide.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';

export type Json = Record<string, unknown>;

// A fixed helper image and version, not the release's: the goldens in
// test/fixtures and the expectations here stay put when the version is bumped.
export const CONFIG: WebhookConfig = {
  ...DEFAULT_CONFIG,
  helperImage: 'ghcr.io/ws-drain/ws-drain-helper:0.1.0',
  helperVersion: '0.1.0',
  excludeNamespaces: [...DEFAULT_CONFIG.excludeNamespaces],
};

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

/** decide() on a pod that must be mutated, with the mutated containers at hand. */
export function mutatedPod(input: unknown): Extract<Decision, { kind: 'mutate' }> & { containers: Json[] } {
  const d = decide(input, 'default', CONFIG);
  if (d.kind !== 'mutate') throw new Error(`expected mutate, got ${JSON.stringify(d)}`);
  return { ...d, containers: (d.pod as { spec: { containers: Json[] } }).spec.containers };
}

/** A container's preStop exec argv, [] when it has none. */
export function preStopArgv(c: Json | undefined): string[] {
  return ((((c?.['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as Json | undefined)?.['command'] as string[]) ?? [];
}
