// Renders a kustomize directory with `kubectl kustomize`: the kustomize built
// into the kubectl of tools/k8s (the one the e2e and real-node suites run, and
// what users' `kubectl apply -k` uses), so no separate kustomize is built.
// Used by the manifests tests and by the e2e suite, which dry-runs the result
// against a real kube-apiserver.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { ensureBinaries } from '../e2e/controlplane/binaries.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The part of every Kubernetes object that the render guarantees; the rest is kept as is. */
export const KubeObjectSchema = z.looseObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
});
export type KubeObject = z.infer<typeof KubeObjectSchema>;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], opts: { cwd: string; echoStderr: boolean; env?: Record<string, string> }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      // The build prints its progress on stderr; a first run takes a while.
      if (opts.echoStderr) process.stderr.write(b);
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

const toolBinaries = new Map<string, Promise<string>>();

/**
 * Path of a tool built by tools/<name>/build.sh (helm, promtool), building it
 * once per process; the scripts reuse earlier builds from the cache.
 */
export function buildTool(name: 'helm' | 'promtool'): Promise<string> {
  let binary = toolBinaries.get(name);
  if (binary === undefined) {
    binary = (async () => {
      const result = await run(resolve(REPO_ROOT, 'tools', name, 'build.sh'), [], { cwd: REPO_ROOT, echoStderr: true });
      const lines = result.stdout.trim().split('\n');
      const path = lines[lines.length - 1] ?? '';
      if (result.code !== 0 || path === '') {
        throw new Error(`tools/${name}/build.sh failed (exit ${result.code ?? result.signal}):\n${result.stderr}`);
      }
      return path;
    })();
    toolBinaries.set(name, binary);
    // A failed build is not cached, so a later call can retry.
    binary.catch(() => toolBinaries.delete(name));
  }
  return binary;
}

let kubectl: Promise<string> | undefined;

/** Path of the kubectl pinned in tools/k8s, whose `kubectl kustomize` renders; built once per process. */
export function buildKubectl(): Promise<string> {
  if (kubectl === undefined) {
    kubectl = ensureBinaries().then((binaries) => binaries.kubectl);
    // A failed build is not cached, so a later call can retry.
    kubectl.catch(() => (kubectl = undefined));
  }
  return kubectl;
}

/** Parses a multi-document render into objects; `what` names the render in errors. */
export function parseObjects(yamlText: string, what: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const [index, doc] of parseAllDocuments(yamlText).entries()) {
    if (doc.errors.length > 0) {
      throw new Error(`${what}: document ${index} is not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const parsed = KubeObjectSchema.safeParse(value);
    if (!parsed.success) {
      throw new Error(`${what}: document ${index} is not a Kubernetes object: ${z.prettifyError(parsed.error)}`);
    }
    objects.push(parsed.data);
  }
  return objects;
}

/**
 * `kubectl kustomize DIR`, parsed into objects. DIR is absolute or relative to
 * the repository root (e.g. "manifests/overlays/ha").
 */
export async function renderKustomize(dir: string): Promise<KubeObject[]> {
  const target = isAbsolute(dir) ? dir : resolve(REPO_ROOT, dir);
  const info = await stat(target).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`renderKustomize: ${dir} is not a directory (resolved to ${target})`);

  const result = await run(await buildKubectl(), ['kustomize', target], { cwd: REPO_ROOT, echoStderr: false });
  if (result.code !== 0) {
    throw new Error(`kubectl kustomize ${dir} failed (exit ${result.code ?? result.signal}):\n${result.stderr.trim()}`);
  }

  return parseObjects(result.stdout, `kubectl kustomize ${dir}`);
}
