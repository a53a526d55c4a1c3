// `ws-drain check`: audit a live cluster (install, opted-in workloads, the path
// in front of them), like `istioctl analyze` / `linkerd check`. Read-only: the
// fetch layer only sends GETs.
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfigInto } from '../kube/connection.js';
import { fetchSnapshot, KubeReader } from '../check/fetch.js';
import { render, OUTPUT_FORMATS, type OutputFormat } from '../check/render.js';
import { runChecks } from '../check/report.js';
import { CliError, usageError } from './cli-error.js';
import { CONFIG_FLAGS, configFromFlags, formatFlagHelp, parseFlags, stringFlag, type FlagSpec } from './flags.js';

const CHECK_ONLY_FLAGS: FlagSpec[] = [
  { name: 'kubeconfig', type: 'string', help: 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)', value: 'FILE' },
  { name: 'context', type: 'string', help: 'kubeconfig context to use (default: the current context)', value: 'NAME' },
  { name: 'namespace', short: 'n', type: 'string', help: "check the workloads of this namespace (default: the context's namespace)", value: 'NS' },
  { name: 'all-namespaces', short: 'A', type: 'boolean', help: 'check the workloads of every namespace' },
  { name: 'output', short: 'o', type: 'string', help: `output format: ${OUTPUT_FORMATS.join(', ')} (wide adds the fix for each finding)`, value: 'FORMAT', defaultText: 'table' },
];

export const CHECK_FLAGS: FlagSpec[] = [...CHECK_ONLY_FLAGS, ...CONFIG_FLAGS];

export const CHECK_HELP = `Usage: ws-drain check [-n NS | -A] [-o table|wide|json|yaml] [--context NAME] [flags]

Audit the cluster of the current kubeconfig context: the webhook install
(registration, Service endpoints, the certificate it serves against its
caBundle, the guard policy, versions), every opted-in workload and pod (the
plan the webhook gives it, pods that were not injected or carry an old
helper, grace periods the platform will cut short) and the path in front of
them (Services, Ingresses, HTTPRoutes and their proxy timeouts). Read-only:
it only sends GET requests.

Plans use the settings of the webhook Deployment when check can read it;
otherwise the webhook flags below (and their WS_DRAIN_* variables).

Exit status: 0 no errors or warnings (notes allowed), 1 errors or warnings
found or the cluster could not be read, 2 usage error.
Every finding code is explained in docs/check.md.

Flags:
${formatFlagHelp(CHECK_FLAGS)}
`;

export function loadKubeConfig(file: string | undefined, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    loadKubeConfigInto(kc, file);
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw usageError(`--context ${JSON.stringify(context)}: no such context in the kubeconfig (contexts: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new CliError('the kubeconfig has no current context or cluster (set one with kubectl config use-context, or pass --context)', 1);
  return kc;
}

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export async function checkCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, CHECK_FLAGS);
  if (values['help']) {
    process.stdout.write(CHECK_HELP);
    return 0;
  }
  const output = stringFlag(values, 'output') ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) throw usageError(`-o ${JSON.stringify(output)}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  const namespace = stringFlag(values, 'namespace');
  const all = values['all-namespaces'] === true;
  if (namespace !== undefined && all) throw usageError('-n/--namespace and -A/--all-namespaces cannot be used together');
  if (namespace !== undefined && !NAMESPACE_NAME.test(namespace)) throw usageError(`-n ${JSON.stringify(namespace)}: not a namespace name`);
  const fallback = { config: configFromFlags(values), source: 'flags and defaults of this CLI (the webhook Deployment was not found)' };

  const kc = loadKubeConfig(stringFlag(values, 'kubeconfig'), stringFlag(values, 'context'));
  const reader = new KubeReader(kc);
  try {
    const v = await reader.get('/version');
    if (v.status !== 200) throw new Error(`GET /version answered ${v.status}`);
  } catch (err) {
    throw new CliError(`cannot reach the API server at ${reader.server}: ${(err as Error).message}`, 1);
  }
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const scope = all ? undefined : [namespace ?? contextNamespace];
  const snapshot = await fetchSnapshot(reader, scope ? { scope } : {});
  const report = runChecks(snapshot, fallback);
  process.stdout.write(render(report, output as OutputFormat));
  return report.exitCode;
}
