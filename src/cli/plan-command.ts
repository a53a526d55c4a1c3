// `ws-drain plan`: explain the timings for given annotation values. The plan
// comes from the core's decide() on a minimal opted-in pod, so the numbers
// are exactly what the webhook would write.
import { parseAllDocuments } from 'yaml';
import { decide, explainPlan, listItems, namespaceOptsIn, type NamespaceView } from '../core/index.js';
import { readTextFile, readTextStream } from '../files/safe-fs.js';
import { namespaceFromObject } from './inject-command.js';
import { PREFIX, type Plan, type WebhookConfig } from '../core/types.js';
import { parseMargin } from '../core/duration.js';
import { CliError, usageError } from './cli-error.js';
import { CONFIG_FLAGS, configFromFlags, durationFlag, formatFlagHelp, parseFlags, stringFlag, type FlagSpec } from './flags.js';

const PLAN_ONLY_FLAGS: FlagSpec[] = [
  { name: 'session-p95', type: 'string', help: 'S: 95th percentile session length (ws-drain/session-p95)', value: 'DURATION', defaultText: '--default-session-p95' },
  { name: 'prestop-delay', type: 'string', help: 'D: endpoint propagation delay (ws-drain/prestop-delay)', value: 'DURATION', defaultText: '--default-prestop-delay' },
  { name: 'cleanup', type: 'string', help: 'C: cleanup time after SIGTERM (ws-drain/cleanup)', value: 'DURATION', defaultText: '--default-cleanup' },
  { name: 'grace-margin', type: 'string', help: 'M: safety margin (ws-drain/grace-margin)', value: 'PERCENT', defaultText: '--default-margin' },
  {
    name: 'namespace-file',
    type: 'string',
    help: 'a Namespace as YAML (e.g. kubectl get ns NAME -o yaml); its ws-drain/ annotations are the defaults, its ws-drain.io/inject label the opt-in; - reads stdin',
    value: 'FILE',
  },
  { name: 'json', type: 'boolean', help: 'print the plan as JSON (the value of the ws-drain/plan annotation)' },
];

export const PLAN_FLAGS: FlagSpec[] = [...PLAN_ONLY_FLAGS, ...CONFIG_FLAGS];

export const PLAN_HELP = `Usage: ws-drain plan [--session-p95 5m] [--prestop-delay 20s] [--cleanup 10s] [--grace-margin 30%] [--json] [flags]

Explain the drain plan (preStop delay, drain budget, grace period) that the
webhook computes for a pod with these annotations, and where each value
comes from: the pod (these flags), its namespace (--namespace-file) or the
webhook's default. Exits 1 when the webhook would deny such a pod (e.g. the
grace period exceeds --max-grace).

Flags:
${formatFlagHelp(PLAN_FLAGS)}
`;

/**
 * A minimal pod carrying the given annotation values (the pod's grace is left
 * to the API server default), opted in by itself unless `optedIn` says its namespace does it.
 */
export function planPod(annotations: Record<string, string>, optedIn = false): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ws-drain-plan', annotations: optedIn ? annotations : { [`${PREFIX}enabled`]: 'true', ...annotations } },
    spec: { containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
  };
}

export function planFor(annotations: Record<string, string>, config: WebhookConfig, namespace: NamespaceView = { name: 'ws-drain-plan' }): { plan: Plan; warnings: string[] } {
  const decision = decide(planPod(annotations, namespaceOptsIn(namespace)), namespace, config);
  if (decision.kind === 'deny') throw new CliError(decision.message, 1);
  if (decision.kind === 'skip') throw new CliError(`no plan: the pod was skipped (${decision.reason})`, 1);
  return { plan: decision.plan, warnings: decision.warnings };
}

/** The one Namespace in a YAML file (a List of one works too). */
async function readNamespaceFile(file: string): Promise<NamespaceView> {
  let text: string;
  try {
    text = file === '-' ? await readTextStream(process.stdin, '-') : await readTextFile(file);
  } catch (err) {
    throw new CliError(`--namespace-file ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  const docs = parseAllDocuments(text);
  const found: NamespaceView[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new CliError(`--namespace-file ${file}: invalid YAML: ${doc.errors[0]!.message}`, 1);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    for (const o of listItems(value) ?? [value]) {
      const ns = namespaceFromObject(o);
      if (ns) found.push(ns);
    }
  }
  if (found.length !== 1) throw new CliError(`--namespace-file ${file}: expected one v1 Namespace, found ${found.length}`, 1);
  return found[0]!;
}

export async function planCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, PLAN_FLAGS);
  if (values['help']) {
    process.stdout.write(PLAN_HELP);
    return 0;
  }
  const config = configFromFlags(values);
  const annotations: Record<string, string> = {};
  for (const name of ['session-p95', 'prestop-delay', 'cleanup'] as const) {
    // Validate here so the message names the flag rather than the annotation.
    if (durationFlag(values, name) !== undefined) annotations[`${PREFIX}${name}`] = stringFlag(values, name)!;
  }
  const margin = stringFlag(values, 'grace-margin');
  if (margin !== undefined) {
    if (parseMargin(margin) === undefined) throw usageError(`--grace-margin=${JSON.stringify(margin)}: expected a percentage such as 30% or a fraction such as 0.3`);
    annotations[`${PREFIX}grace-margin`] = margin;
  }
  const nsFile = stringFlag(values, 'namespace-file');
  const namespace = nsFile === undefined ? undefined : await readNamespaceFile(nsFile);
  const result = planFor(annotations, config, namespace);
  for (const w of result.warnings.filter((w) => w.startsWith('ws-drain: namespace '))) process.stderr.write(`warning: ${w}\n`);
  // The containers and ports come from the synthetic pod, not from the user's: leave them out.
  const plan: Plan = { ...result.plan, containers: [] };
  process.stdout.write(values['json'] ? `${JSON.stringify(plan, null, 2)}\n` : `${explainPlan(plan).trimEnd()}\n`);
  return 0;
}
