// One run of the checks: pure, from a snapshot to a report. The CLI renders
// it as a table, JSON or YAML.
import type { Plan } from '../core/types.js';
import { exitCodeFor, finding, sortFindings, type Finding, type ObjectRef } from './findings.js';
import { installRules } from './install-rules.js';
import { pathIndex, pathOf, pathRules, type WorkloadPath } from './path-rules.js';
import type { ConfigSource, Snapshot, WebhookProbe } from './snapshot.js';
import { readInstall } from './webhook-install.js';
import { collectWorkloads, workloadRules } from './workload-rules.js';

export interface WorkloadReport extends WorkloadPath {
  object: ObjectRef;
  plan?: Plan;
  denied?: string;
  outOfScope?: string;
}

export interface CheckReport {
  apiVersion: 'ws-drain.io/v1alpha1';
  kind: 'CheckReport';
  /** Namespaces whose workloads were checked; "all" for -A. */
  namespaces: string[] | 'all';
  /** Where the webhook settings used for plans came from. */
  configSource: string;
  expectedHelperVersion: string;
  webhooks: Array<Pick<WebhookProbe, 'configName' | 'webhookName' | 'method' | 'target' | 'serverName' | 'verified' | 'verifyError' | 'served'>>;
  workloads: WorkloadReport[];
  findings: Finding[];
  summary: { errors: number; warnings: number; info: number };
  exitCode: 0 | 1;
}

const refKey = (o: ObjectRef) => `${o.namespace ?? ''}\u0000${o.kind}\u0000${o.name}`;
const byObject = (a: { object: ObjectRef }, b: { object: ObjectRef }) => refKey(a.object).localeCompare(refKey(b.object));

export function runChecks(snapshot: Snapshot, fallback: ConfigSource): CheckReport {
  const install = readInstall(snapshot, fallback);
  const workloads = [...collectWorkloads(snapshot, install)].sort(byObject);
  const index = pathIndex(snapshot);
  const paths = workloads.map((w) => pathOf(index, w));
  const findings = sortFindings([
    ...snapshot.unreadable.map((u) =>
      finding(
        'WSD901',
        { kind: u.resource, ...(u.namespace ? { namespace: u.namespace } : {}), name: u.name ?? '*' },
        `cannot read ${u.name ? `${u.resource} ${u.namespace ? `${u.namespace}/` : ''}${u.name}` : u.resource}: ${u.reason}; checks that need it were skipped`,
        u.name ? 'fix the object (it does not have the shape its API defines)' : 'grant get/list on it (the ClusterRole in docs/check.md), or ignore if that API is not installed on purpose',
      ),
    ),
    ...installRules(snapshot, install),
    ...workloadRules(snapshot, install, workloads),
    ...pathRules(snapshot, workloads, paths),
  ]);
  const count = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  return {
    apiVersion: 'ws-drain.io/v1alpha1',
    kind: 'CheckReport',
    namespaces: snapshot.scope ?? 'all',
    configSource: install.configSource.source,
    expectedHelperVersion: install.expectedHelperVersion,
    webhooks: snapshot.probes.map(({ configName, webhookName, method, target, serverName, verified, verifyError, served }) => ({
      configName,
      webhookName,
      method,
      serverName,
      ...(target !== undefined ? { target } : {}),
      ...(verified !== undefined ? { verified } : {}),
      ...(verifyError !== undefined ? { verifyError } : {}),
      ...(served !== undefined ? { served } : {}),
    })),
    workloads: workloads.map((w, i) => ({
      object: w.object,
      ...(w.plan ? { plan: w.plan } : {}),
      ...(w.denied !== undefined ? { denied: w.denied } : {}),
      ...(w.outOfScope !== undefined ? { outOfScope: w.outOfScope } : {}),
      ...paths[i]!.path,
    })),
    findings,
    summary: { errors: count('error'), warnings: count('warning'), info: count('info') },
    exitCode: exitCodeFor(findings),
  };
}
