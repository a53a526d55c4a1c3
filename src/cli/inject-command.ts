// `ws-drain inject -f FILE`: the webhook's mutation applied offline to YAML,
// like `istioctl kube-inject`. Documents the core does not change are written
// back byte for byte; mutated ones are re-serialised.
import { CST, Parser, parseDocument, stringify } from 'yaml';
import { decideDocument } from '../core/index.js';
import { readTextFile, readTextStream } from '../files/safe-fs.js';
import type { WebhookConfig } from '../core/types.js';
import { CliError, usageError } from './cli-error.js';
import { CONFIG_FLAGS, configFromFlags, formatFlagHelp, parseFlags, stringFlag, type FlagSpec } from './flags.js';

export const INJECT_FLAGS: FlagSpec[] = [
  { name: 'filename', short: 'f', type: 'string', help: 'YAML file with one or more documents; - reads stdin', value: 'FILE' },
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

/** Pure: YAML text in, injected YAML text plus per-document warnings and denials out. */
export function injectYaml(text: string, config: WebhookConfig): InjectResult {
  const out: string[] = [];
  const warnings: string[] = [];
  const denials: string[] = [];
  let index = 0;
  for (const token of new Parser().parse(text)) {
    const source = CST.stringify(token);
    if (token.type === 'error') throw new CliError(`YAML error: ${token.message}`, 1);
    if (token.type !== 'document') {
      out.push(source);
      continue;
    }
    index += 1;
    const doc = parseDocument(source);
    const errors = doc.errors;
    if (errors.length > 0) throw new CliError(`document ${index}: invalid YAML: ${errors[0]!.message}`, 1);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const result = decideDocument(value, config);
    const label = describeDocument(index, value);
    for (const o of result.objects) {
      const where = o.item === undefined ? label : `${label} item ${o.item}${describeObject(o.object)}`;
      for (const w of o.warnings) warnings.push(`${where}: ${w}`);
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
  const result = injectYaml(await readInput(file), config);
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  if (result.denials.length > 0) {
    for (const d of result.denials) process.stderr.write(`denied: ${d}\n`);
    return 1;
  }
  process.stdout.write(result.output);
  return 0;
}
