// Renders a kustomize directory with the kustomize pinned in tools/kustomize
// (built on first use into ${WS_DRAIN_CACHE:-.cache}/kustomize/<version>/).
// Used by the manifests tests and by the e2e suite, which dry-runs the result
// against a real kube-apiserver.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_SCRIPT = resolve(REPO_ROOT, 'tools', 'kustomize', 'build.sh');

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

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd: string; echoStderr: boolean }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
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

let kustomizeBinary: Promise<string> | undefined;

/** Path of the pinned kustomize binary, building it once per process (the script reuses earlier builds). */
export function buildKustomize(): Promise<string> {
  kustomizeBinary ??= (async () => {
    const result = await run(BUILD_SCRIPT, [], { cwd: REPO_ROOT, echoStderr: true });
    const lines = result.stdout.trim().split('\n');
    const binary = lines[lines.length - 1] ?? '';
    if (result.code !== 0 || binary === '') {
      throw new Error(`tools/kustomize/build.sh failed (exit ${result.code ?? result.signal}):\n${result.stderr}`);
    }
    return binary;
  })();
  // A failed build is not cached, so a later call can retry.
  kustomizeBinary.catch(() => {
    kustomizeBinary = undefined;
  });
  return kustomizeBinary;
}

/**
 * `kustomize build DIR`, parsed into objects. DIR is absolute or relative to
 * the repository root (e.g. "manifests/overlays/ha").
 */
export async function renderKustomize(dir: string): Promise<KubeObject[]> {
  const target = isAbsolute(dir) ? dir : resolve(REPO_ROOT, dir);
  const info = await stat(target).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`renderKustomize: ${dir} is not a directory (resolved to ${target})`);

  const kustomize = await buildKustomize();
  const result = await run(kustomize, ['build', target], { cwd: REPO_ROOT, echoStderr: false });
  if (result.code !== 0) {
    throw new Error(`kustomize build ${dir} failed (exit ${result.code ?? result.signal}):\n${result.stderr.trim()}`);
  }

  const objects: KubeObject[] = [];
  for (const [index, doc] of parseAllDocuments(result.stdout).entries()) {
    if (doc.errors.length > 0) {
      throw new Error(`kustomize build ${dir}: document ${index} is not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const parsed = KubeObjectSchema.safeParse(value);
    if (!parsed.success) {
      throw new Error(`kustomize build ${dir}: document ${index} is not a Kubernetes object: ${z.prettifyError(parsed.error)}`);
    }
    objects.push(parsed.data);
  }
  return objects;
}
