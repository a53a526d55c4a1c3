// Runs the Helm pinned in tools/helm (built on first use into
// ${WS_DRAIN_CACHE:-.cache}/helm/<version>/) on charts/ws-drain. Used by the
// chart tests and by the e2e suite's server-side dry-run install.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT, buildTool, parseObjects, run, type KubeObject, type RunResult } from './render.js';

export const CHART_DIR = resolve(REPO_ROOT, 'charts', 'ws-drain');
export const RELEASE = 'ws-drain';

export interface ChartOptions {
  /** The release namespace (default ws-drain-system, as in the kustomize base). */
  namespace?: string;
  /** Values, written to a file and passed with --values. */
  values?: Record<string, unknown>;
}

/**
 * `helm ARGS` with Helm's config, cache and data directories in a scratch
 * directory, so no user or machine Helm setup (repositories, plugins) leaks in.
 * `values` is written to <scratch>/values.yaml and the path replaces the
 * placeholder {values} in args.
 */
export async function helm(args: string[], values?: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunResult> {
  const binary = await buildTool('helm');
  const scratch = await mkdtemp(join(tmpdir(), 'ws-drain-helm-'));
  try {
    const valuesFile = join(scratch, 'values.yaml');
    await writeFile(valuesFile, JSON.stringify(values ?? {}));
    const helmEnv = { HELM_CONFIG_HOME: join(scratch, 'config'), HELM_CACHE_HOME: join(scratch, 'cache'), HELM_DATA_HOME: join(scratch, 'data'), ...env };
    return await run(binary, args.map((a) => (a === '{values}' ? valuesFile : a)), { cwd: REPO_ROOT, echoStderr: false, env: helmEnv });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `helm template` of the chart, parsed into objects; Helm's message on failure. */
export async function renderChart(opts: ChartOptions = {}): Promise<KubeObject[]> {
  const namespace = opts.namespace ?? 'ws-drain-system';
  const result = await helm(['template', RELEASE, CHART_DIR, '--namespace', namespace, '--values', '{values}'], opts.values);
  if (result.code !== 0) throw new Error(`helm template failed (exit ${result.code ?? result.signal}):\n${result.stderr.trim()}`);
  return parseObjects(result.stdout, `helm template ${JSON.stringify(opts.values ?? {})}`);
}
