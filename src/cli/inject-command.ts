// `ws-drain inject -f FILE`: the webhook's mutation applied offline to YAML,
// like `istioctl kube-inject`. Documents the core does not change are written
// back byte for byte; mutated ones are re-serialised.
import { CST, Parser, parseDocument, stringify } from 'yaml';
import { decideDocument, documentNamespace, listItems, validateNamespace, type NamespaceView } from '../core/index.js';
import { readTextFile, readTextStream } from '../files/safe-fs.js';
import type { WebhookConfig } from '../core/types.js';
import { CliError, usageError } from './cli-error.js';
import { CONFIG_FLAGS, configFromFlags, formatFlagHelp, parseFlags, stringFlag, type FlagSpec } from './flags.js';

export const INJECT_FLAGS: FlagSpec[] = [
  { name: 'filename', short: 'f', type: 'string', help: 'YAML file with one or more documents; - reads stdin', value: 'FILE' },
  {
    name: 'namespaces-from-cluster',
    type: 'boolean',
    help: 'read the label and ws-drain/ annotations of each namespace the documents use from the cluster of the kubeconfig (Namespace documents in the input win)',
  },
  { name: 'kubeconfig', type: 'string', help: 'kubeconfig file for --namespaces-from-cluster (default: $KUBECONFIG, then ~/.kube/config)', value: 'FILE' },
  { name: 'context', type: 'string', help: 'kubeconfig context for --namespaces-from-cluster', value: 'NAME' },
  ...CONFIG_FLAGS,
];

export const INJECT_HELP = `Usage: ws-drain inject -f FILE [flags]

Apply the webhook's mutation to Pods and pod templates (Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job, CronJob, Argo Rollout) in a multi-document YAML file,
also inside a List (what "kubectl get -o yaml" prints), and print the result.
Other documents are printed unchanged. Exits 1 when a document would be denied,
printing the webhook's message. Warnings go to stderr: the webhook's, and
mistakes that would change nothing (ws-drain/ annotations on a workload's own
metadata instead of its pod template, labels instead of annotations, removed API
versions, kinds ws-drain does not read, namespaces it never touches).

Namespace opt-in (label ws-drain.io/inject=enabled) and namespace defaults
(ws-drain/ annotations on a Namespace) apply as in the webhook: from the
Namespace documents in the input, and with --namespaces-from-cluster from the
cluster of the current kubeconfig. A document without metadata.namespace is in
"default".

Flags:
${formatFlagHelp(INJECT_FLAGS)}
`;

export interface InjectResult {
  output: string;
  warnings: string[];
  denials: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** " (Deployment/web)", or "" for something without kind and name. */
function describeObject(doc: unknown): string {
  if (!isRecord(doc)) return '';
  const kind = typeof doc['kind'] === 'string' ? doc['kind'] : undefined;
  const meta = doc['metadata'];
  const name = isRecord(meta) && typeof meta['name'] === 'string' ? meta['name'] : undefined;
  if (kind && !name) return ` (${kind})`;
  return kind || name ? ` (${kind ?? '?'}/${name ?? '?'})` : '';
}

/** "document 2 (Deployment/web)": how messages point at a document; items of a List add " item 3 (Deployment/web)". */
export function describeDocument(index: number, doc: unknown): string {
  return `document ${index}${describeObject(doc)}`;
}

/** A v1 Namespace object's view for the core, or undefined for anything else. */
export function namespaceFromObject(obj: unknown): NamespaceView | undefined {
  if (!isRecord(obj) || obj['apiVersion'] !== 'v1' || obj['kind'] !== 'Namespace') return undefined;
  const meta = obj['metadata'];
  if (!isRecord(meta) || typeof meta['name'] !== 'string') return undefined;
  const strings = (v: unknown): Record<string, string> =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
  return { name: meta['name'], labels: strings(meta['labels']), annotations: strings(meta['annotations']) };
}

type Parsed = { kind: 'other'; source: string } | { kind: 'document'; source: string; token: CST.Document; value: unknown; index: number };

function parseYaml(text: string): Parsed[] {
  const parsed: Parsed[] = [];
  let index = 0;
  for (const token of new Parser().parse(text)) {
    const source = CST.stringify(token);
    if (token.type === 'error') throw new CliError(`YAML error: ${token.message}`, 1);
    if (token.type !== 'document') {
      parsed.push({ kind: 'other', source });
      continue;
    }
    index += 1;
    const doc = parseDocument(source);
    const errors = doc.errors;
    if (errors.length > 0) throw new CliError(`document ${index}: invalid YAML: ${errors[0]!.message}`, 1);
    parsed.push({ kind: 'document', source, token, value: doc.toJS({ maxAliasCount: 100 }) as unknown, index });
  }
  return parsed;
}

const objectsOf = (value: unknown): unknown[] => listItems(value) ?? [value];

/** The namespaces the documents' objects are in (documentNamespace), for --namespaces-from-cluster. */
export function namespacesUsed(text: string): string[] {
  const names = new Set<string>();
  for (const p of parseYaml(text)) if (p.kind === 'document') for (const o of objectsOf(p.value)) names.add(documentNamespace(o));
  return [...names].sort();
}

/**
 * Pure: YAML text in, injected YAML text plus per-document warnings and denials out.
 * Namespaces come from the input's Namespace documents, else from `known` (the cluster).
 */
export function injectYaml(text: string, config: WebhookConfig, known: ReadonlyMap<string, NamespaceView> = new Map()): InjectResult {
  const out: string[] = [];
  const warnings: string[] = [];
  const denials: string[] = [];
  const parsed = parseYaml(text);
  const namespaces = new Map(known);
  for (const p of parsed) {
    if (p.kind !== 'document') continue;
    for (const o of objectsOf(p.value)) {
      const ns = namespaceFromObject(o);
      if (ns) namespaces.set(ns.name, ns);
    }
  }
  for (const p of parsed) {
    if (p.kind !== 'document') {
      out.push(p.source);
      continue;
    }
    const { source, token, value, index } = p;
    const result = decideDocument(value, config, (name) => namespaces.get(name));
    const label = describeDocument(index, value);
    for (const o of result.objects) {
      const where = o.item === undefined ? label : `${label} item ${o.item}${describeObject(o.object)}`;
      for (const w of o.warnings) warnings.push(`${where}: ${w}`);
      const ns = namespaceFromObject(o.object);
      if (ns) {
        // As /validate judges a Namespace applied with these annotations.
        const v = validateNamespace(ns, undefined, config);
        if (!v.allowed) denials.push(`${where}: ${v.message}`);
        else for (const w of v.warnings) warnings.push(`${where}: ${w}`);
      }
      if (o.result.kind === 'passthrough') continue;
      const decision = o.result.decision;
      if (decision.kind === 'deny') denials.push(`${where}: ${decision.message}`);
      else for (const w of decision.warnings) warnings.push(`${where}: ${w}`);
    }
    if (!result.changed) {
      out.push(source);
      continue;
    }
    // Keep the document's own start ("---" and leading comments); the body is new.
    let prefix = token.start.map((t) => CST.stringify(t)).join('');
    if (prefix !== '' && !prefix.endsWith('\n')) prefix = `${prefix.trimEnd()}\n`;
    out.push(prefix + stringify(result.doc, { lineWidth: 0 }));
  }
  return { output: out.join(''), warnings, denials };
}

async function readInput(file: string): Promise<string> {
  try {
    return file === '-' ? await readTextStream(process.stdin, '-') : await readTextFile(file);
  } catch (err) {
    throw new CliError(`-f ${err instanceof Error ? err.message : String(err)}`, 1);
  }
}

export async function injectCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, INJECT_FLAGS);
  if (values['help']) {
    process.stdout.write(INJECT_HELP);
    return 0;
  }
  const file = stringFlag(values, 'filename');
  if (file === undefined) throw usageError('inject needs -f FILE (or -f - for stdin)');
  const config = configFromFlags(values);
  const text = await readInput(file);
  const known = values['namespaces-from-cluster'] === true ? await clusterNamespaces(namespacesUsed(text), values) : new Map<string, NamespaceView>();
  const result = injectYaml(text, config, known);
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  if (result.denials.length > 0) {
    for (const d of result.denials) process.stderr.write(`denied: ${d}\n`);
    return 1;
  }
  process.stdout.write(result.output);
  return 0;
}

/** GET each namespace from the cluster; one that does not exist (yet) has no labels or annotations. */
async function clusterNamespaces(names: string[], values: Record<string, string | boolean | undefined>): Promise<Map<string, NamespaceView>> {
  const [{ CoreV1Api }, { loadKubeConfig }] = await Promise.all([import('@kubernetes/client-node'), import('./check-command.js')]);
  const kc = loadKubeConfig(stringFlag(values, 'kubeconfig'), stringFlag(values, 'context'));
  const core = kc.makeApiClient(CoreV1Api);
  const out = new Map<string, NamespaceView>();
  for (const name of names) {
    try {
      const ns = await core.readNamespace({ name });
      out.set(name, { name, labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} });
    } catch (err) {
      if ((err as { code?: number }).code === 404) continue;
      throw new CliError(`--namespaces-from-cluster: cannot read namespace ${name} from ${kc.getCurrentCluster()?.server ?? 'the cluster'}: ${(err as Error).message}`, 1);
    }
  }
  return out;
}
