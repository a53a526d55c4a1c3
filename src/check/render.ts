// Output of `ws-drain check`: kubectl-style tables (wide adds the fix), or the
// whole report as JSON / YAML for machines.
import { stringify } from 'yaml';
import { formatSeconds } from '../core/duration.js';
import type { ObjectRef } from './findings.js';
import type { CheckReport } from './report.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Columns padded to the widest cell plus three spaces, like kubectl get. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const refName = (o: ObjectRef) => `${o.kind}/${o.name}`;

export function render(report: CheckReport, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'yaml') return stringify(report, { lineWidth: 0 });
  const wide = format === 'wide';
  const parts: string[] = [];
  if (report.workloads.length > 0) {
    const rows = report.workloads.map((w) => {
      const p = w.plan;
      const plan = p ? [`${p.graceSeconds}s`, formatSeconds(p.prestopDelaySeconds), formatSeconds(p.sessionP95Seconds), formatSeconds(p.cleanupSeconds)] : [w.denied !== undefined ? 'DENIED' : '-', '-', '-', '-'];
      const routes = [...w.services, ...w.ingresses, ...w.httpRoutes].map(refName).join(',') || '<none>';
      return [w.object.namespace ?? '', refName(w.object), ...plan, routes];
    });
    parts.push(table(['NAMESPACE', 'WORKLOAD', 'GRACE', 'PRESTOP-DELAY', 'SESSION-P95', 'CLEANUP', 'ROUTED-BY'], rows));
  } else {
    parts.push(`No opted-in workloads in ${report.namespaces === 'all' ? 'any namespace' : `namespace ${report.namespaces.join(', ')}`}.`);
  }
  if (report.findings.length > 0) {
    const header = ['SEVERITY', 'CODE', 'NAMESPACE', 'OBJECT', 'MESSAGE', ...(wide ? ['FIX'] : [])];
    const rows = report.findings.map((f) => [f.severity, f.code, f.object.namespace ?? '', refName(f.object), f.message, ...(wide ? [f.fix] : [])]);
    parts.push(table(header, rows));
  }
  const s = report.summary;
  parts.push(
    report.findings.length === 0
      ? 'No findings: the install is healthy and the opted-in workloads will drain as planned.'
      : `${s.errors} error(s), ${s.warnings} warning(s), ${s.info} note(s).${wide ? '' : ' Fixes: ws-drain check -o wide;'} Each code is explained in docs/check.md.`,
  );
  return `${parts.join('\n\n')}\n`;
}
