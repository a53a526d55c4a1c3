// The example workload on the real node: examples/k8s/ws-echo.yaml (Deployment
// + Service) with its image from the node's registry and its times shortened,
// opted in with annotations only; or the same Deployment without ws-drain (the
// control). Plus the observations the suite makes on it: pods, their logs while
// they terminate, and every status the API server reports for them.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from '../e2e/controlplane/binaries.js';
import type { RealNode } from './node.js';

export const EXAMPLE_MANIFEST = join(REPO_ROOT, 'examples/k8s/ws-echo.yaml');

/** Short times so a rollout takes seconds: D=2s, S=15s, C=2s; the app staggers its 1001 closes over 3 s. */
export const TEST_ANNOTATIONS = {
  'ws-drain/session-p95': '15s',
  'ws-drain/prestop-delay': '2s',
  'ws-drain/cleanup': '2s',
  'ws-drain/drain-signal': 'SIGUSR1',
} as const;
export const TEST_STAGGER = '3s';

// Kubernetes objects as kubectl prints them; the fields read are checked where read.
type Obj = Record<string, any>;

export interface WorkloadOptions {
  name: string;
  namespace: string;
  image: string;
  /** false: the control — the same Deployment with no ws-drain/ annotation. */
  wsDrain: boolean;
  replicas?: number;
  /** Replaces the container's command (a pod that ignores every signal). */
  command?: string[];
  /** More server flags (--exit-on-sigterm, --naive: the benchmark's other two ways). */
  extraArgs?: string[];
  /** The articles' recipe: preStop `sleep N` (exec form, the app image has no shell) and a grace period. */
  preStopSleepSeconds?: number;
  graceSeconds?: number;
  /** ws-drain annotations (default TEST_ANNOTATIONS) and the app's stagger (default TEST_STAGGER). */
  annotations?: Record<string, string>;
  stagger?: string;
}

/** examples/k8s/ws-echo.yaml, renamed, with the test image, annotations and stagger. */
export async function exampleWorkload(o: WorkloadOptions): Promise<Obj[]> {
  const docs = parseAllDocuments(await readFile(EXAMPLE_MANIFEST, 'utf8')).map((d) => d.toJS() as Obj);
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const service = docs.find((d) => d.kind === 'Service');
  if (!deployment || !service) throw new Error(`${EXAMPLE_MANIFEST}: expected a Deployment and a Service`);
  const labels = { app: o.name };
  deployment.metadata = { name: o.name, namespace: o.namespace, labels };
  deployment.spec.replicas = o.replicas ?? 2;
  deployment.spec.selector = { matchLabels: labels };
  const template = deployment.spec.template;
  template.metadata.labels = labels;
  const annotations = Object.fromEntries(Object.entries(template.metadata.annotations ?? {}).filter(([k]) => !k.startsWith('ws-drain/')));
  template.metadata.annotations = o.wsDrain ? { ...annotations, ...(o.annotations ?? TEST_ANNOTATIONS) } : annotations;
  const container = template.spec.containers[0];
  container.image = o.image;
  // Ready as soon as it listens (the example's 5 s probe period would only slow the rollout).
  container.readinessProbe = { ...container.readinessProbe, periodSeconds: 1 };
  container.args = (container.args as string[]).map((a, i, all) => (all[i - 1] === '--stagger' ? (o.stagger ?? TEST_STAGGER) : a));
  if (o.extraArgs) container.args = [...container.args, ...o.extraArgs];
  if (o.preStopSleepSeconds !== undefined) container.lifecycle = { preStop: { sleep: { seconds: o.preStopSleepSeconds } } };
  if (o.graceSeconds !== undefined) template.spec.terminationGracePeriodSeconds = o.graceSeconds;
  if (o.command) {
    container.command = o.command;
    container.args = [];
  }
  service.metadata = { name: o.name, namespace: o.namespace, labels };
  service.spec.selector = labels;
  return [deployment, service];
}

export async function applyObjects(node: RealNode, objects: Obj[]): Promise<void> {
  await node.kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}

const PodList = z.object({
  items: z.array(
    z.looseObject({
      metadata: z.looseObject({ name: z.string(), deletionTimestamp: z.string().optional(), annotations: z.record(z.string(), z.string()).optional() }),
      spec: z.looseObject({ terminationGracePeriodSeconds: z.number().optional(), initContainers: z.array(z.looseObject({})).optional() }),
      status: z.looseObject({ phase: z.string().optional(), podIP: z.string().optional() }).optional(),
    }),
  ),
});
export type PodObject = z.infer<typeof PodList>['items'][number];

export async function listPods(node: RealNode, namespace: string, app: string): Promise<PodObject[]> {
  const out = await node.kubectl(['-n', namespace, 'get', 'pods', '-l', `app=${app}`, '-o', 'json']);
  return PodList.parse(JSON.parse(out)).items;
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms ${lastError}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** All replicas Running and Ready, none terminating; resolves their pods. */
export async function waitForReady(node: RealNode, namespace: string, app: string, replicas: number): Promise<PodObject[]> {
  return waitFor(`${replicas} ready ${app} pods`, async () => {
    const pods = await listPods(node, namespace, app);
    const ready = (p: PodObject): boolean =>
      !p.metadata.deletionTimestamp &&
      ((p.status as Obj | undefined)?.conditions as Obj[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    return pods.length === replicas && pods.every(ready) ? pods : undefined;
  }, 180_000);
}

export async function clusterIp(node: RealNode, namespace: string, name: string): Promise<string> {
  return (await node.kubectl(['-n', namespace, 'get', 'service', name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

/** A running `kubectl ...` whose output is kept (logs -f, get -w). */
export class KubectlStream {
  private readonly child: ChildProcess;
  private out = '';
  readonly done: Promise<void>;

  constructor(node: RealNode, args: string[]) {
    this.child = spawn(node.kubectlPath, args, { env: { ...process.env, KUBECONFIG: node.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (c: Buffer) => (this.out += c.toString('utf8')));
    this.child.stderr?.on('data', (c: Buffer) => (this.out += c.toString('utf8')));
    this.done = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get output(): string {
    return this.out;
  }

  /** JSON objects from the output, one per line (others ignored). */
  jsonLines(): Array<Record<string, unknown>> {
    const lines: Array<Record<string, unknown>> = [];
    for (const line of this.out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a partial line
      }
    }
    return lines;
  }

  async stop(): Promise<string> {
    this.child.kill('SIGTERM');
    await this.done;
    return this.out;
  }
}

/** Every version of one pod the API server reports (kubectl get -w -o json), until it is deleted. */
export function watchPod(node: RealNode, namespace: string, name: string): { stream: KubectlStream; versions(): Obj[] } {
  const stream = new KubectlStream(node, ['-n', namespace, 'get', 'pod', name, '--watch', '--output-watch-events', '-o', 'json']);
  return {
    stream,
    versions() {
      // Concatenated pretty-printed JSON documents: split on top-level braces.
      const docs: Obj[] = [];
      let depth = 0;
      let start = -1;
      let inString = false;
      const text = stream.output;
      for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (inString) {
          if (ch === '\\') i++;
          else if (ch === '"') inString = false;
          continue;
        }
        if (ch === '"') inString = true;
        else if (ch === '{') {
          if (depth++ === 0) start = i;
        } else if (ch === '}' && --depth === 0) {
          try {
            docs.push(JSON.parse(text.slice(start, i + 1)) as Obj);
          } catch {
            // skip
          }
        }
      }
      return docs.map((d) => (d.object as Obj | undefined) ?? d);
    },
  };
}
