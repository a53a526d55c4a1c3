// The preStop the harness runs is the one the webhook injects: a pod with the
// annotations under test goes through the real `decide`, and the mutated
// container's preStop exec command is taken as is, with only the helper's
// in-pod path (/ws-drain/ws-drain-helper) pointed at the installed binary.
import { decide } from '../../../src/core/decide.js';
import { DEFAULT_CONFIG } from '../../../src/core/config.js';
import { HELPER_BINARY, type Plan } from '../../../src/core/types.js';

export const APP_CONTAINER = 'ws-echo';
export const APP_PORT = 8080;

/** The pod the old replica would be created from: one container, port 8080 named ws. */
export function examplePod(annotations: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ws-echo-old', namespace: 'default', annotations },
    spec: {
      // The API server defaults it before admission.
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: APP_CONTAINER,
          image: 'ghcr.io/ws-drain/ws-echo:0.1.0',
          ports: [{ name: 'ws', containerPort: APP_PORT, protocol: 'TCP' }],
          env: [{ name: 'WS_ECHO_MODE', value: 'drain' }],
        },
      ],
    },
  };
}

export interface InjectedPreStop {
  /** The argv to run, helper path replaced by the installed binary. */
  command: string[];
  /** The argv exactly as the webhook wrote it. */
  injected: string[];
  plan: Plan;
  graceSeconds: number;
  /** The container's env, as the runtime would give the exec hook. */
  env: Record<string, string>;
  cwd: string;
}

export function preStopFromWebhook(annotations: Record<string, string>, installedHelper: string): InjectedPreStop {
  const decision = decide(examplePod(annotations), 'default', DEFAULT_CONFIG);
  if (decision.kind !== 'mutate') {
    throw new Error(`webhook did not mutate the example pod: ${decision.kind} ${'message' in decision ? decision.message : decision.reason}`);
  }
  const pod = decision.pod as {
    spec: {
      terminationGracePeriodSeconds?: number;
      containers: Array<{ name: string; workingDir?: string; env?: Array<{ name: string; value?: string }>; lifecycle?: { preStop?: { exec?: { command?: string[] } } } }>;
    };
  };
  const container = pod.spec.containers.find((c) => c.name === APP_CONTAINER);
  const injected = container?.lifecycle?.preStop?.exec?.command;
  if (!container || !injected || injected.length === 0) throw new Error('mutated pod has no preStop exec command on the app container');
  if (injected[0] !== HELPER_BINARY) throw new Error(`preStop does not start with ${HELPER_BINARY}: ${JSON.stringify(injected)}`);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return {
    command: [installedHelper, ...injected.slice(1)],
    injected,
    plan: decision.plan,
    graceSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
    env,
    cwd: container.workingDir ?? '/',
  };
}
