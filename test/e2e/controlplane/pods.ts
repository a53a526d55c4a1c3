import { CoreV1Api } from '@kubernetes/client-node';
import { z } from 'zod';
import type { ApiResponse, ControlPlane } from './controlplane.js';

/** The parts of a stored pod the e2e assertions read; everything else passes through. */
export const StoredPod = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.looseObject({
    terminationGracePeriodSeconds: z.number().optional(),
    initContainers: z.array(z.looseObject({ name: z.string() })).optional(),
    containers: z.array(
      z.looseObject({
        name: z.string(),
        env: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional(),
        lifecycle: z
          .looseObject({ preStop: z.looseObject({ exec: z.looseObject({ command: z.array(z.string()) }).optional() }).optional() })
          .optional(),
        volumeMounts: z.array(z.looseObject({ name: z.string(), mountPath: z.string() })).optional(),
      }),
    ),
    volumes: z.array(z.looseObject({ name: z.string() })).optional(),
  }),
});
export type StoredPod = z.infer<typeof StoredPod>;

const Status = z.looseObject({ kind: z.literal('Status'), message: z.string().optional(), code: z.number().optional() });

export interface PodCreateResult {
  response: ApiResponse;
  /** The pod the API server returned (201 / dry-run 201), parsed. */
  pod?: StoredPod;
  /** The Status message when refused. */
  message?: string;
}

/** POST a pod as raw JSON so the Warning headers and Status messages reach the test unaltered. */
export async function createPod(cp: ControlPlane, namespace: string, pod: object, opts: { dryRun?: boolean } = {}): Promise<PodCreateResult> {
  const query = opts.dryRun ? '?dryRun=All' : '';
  const response = await cp.request('POST', `/api/v1/namespaces/${namespace}/pods${query}`, pod);
  const json: unknown = response.body ? JSON.parse(response.body) : undefined;
  if (response.status === 201 || response.status === 200) return { response, pod: StoredPod.parse(json) };
  const status = Status.safeParse(json);
  return { response, message: status.success ? status.data.message : response.body };
}

export async function getPod(cp: ControlPlane, namespace: string, name: string): Promise<StoredPod | undefined> {
  const response = await cp.request('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET pod ${namespace}/${name}: ${response.status} ${response.body}`);
  return StoredPod.parse(JSON.parse(response.body));
}

export async function createNamespace(cp: ControlPlane, name: string, labels: Record<string, string> = {}): Promise<void> {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels } } });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes; the error names `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not reached within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A minimal opted-in pod: one container serving WebSockets on 8080. */
export function optedInPod(name: string, annotations: Record<string, string> = { 'ws-drain/session-p95': '2m' }): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/ws-app:1.0', ports: [{ name: 'ws', containerPort: 8080 }] }],
    },
  };
}

/**
 * The webhook configuration is picked up by the API server asynchronously;
 * wait until a dry-run create of an opted-in pod comes back injected.
 */
export async function waitForInjectionActive(cp: ControlPlane, namespace: string): Promise<void> {
  await eventually(`ws-drain webhook active in ${namespace}`, async () => {
    const { pod } = await createPod(cp, namespace, optedInPod('probe-webhook-active'), { dryRun: true });
    return pod?.metadata.annotations?.['ws-drain/injected'] !== undefined ? true : undefined;
  });
}
