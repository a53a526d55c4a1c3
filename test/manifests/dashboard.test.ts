// The Grafana dashboard (manifests/components/grafana-dashboard/dashboard.json)
// and the alert rules query metrics by name; a renamed or misspelt metric is
// an empty panel or an alert that can never fire. Every ws_drain_*, process_*
// and nodejs_* name must be one the webhook serves on /metrics; every other
// name must be in the short list of kube-apiserver and cert-manager metrics
// below, each with where it comes from.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createMetrics } from '../../src/server/metrics.js';
import { one } from './objects.js';
import { REPO_ROOT, renderKustomize } from './render.js';

const DASHBOARD = join(REPO_ROOT, 'manifests', 'components', 'grafana-dashboard', 'dashboard.json');

/** Metrics from other components that the dashboard and the alerts may use. */
const EXTERNAL_METRICS: Record<string, string> = {
  up: 'Prometheus, per scrape target',
  apiserver_admission_webhook_admission_duration_seconds_bucket: 'kube-apiserver (admission webhook latency histogram)',
  apiserver_admission_webhook_fail_open_count: 'kube-apiserver (calls that failed under failurePolicy Ignore)',
  apiserver_validating_admission_policy_check_total: 'kube-apiserver (ValidatingAdmissionPolicy decisions)',
  certmanager_certificate_expiration_timestamp_seconds: 'cert-manager controller',
  certmanager_certificate_ready_status: 'cert-manager controller',
};
const WEBHOOK_PREFIXES = ['ws_drain_', 'process_', 'nodejs_'];

const Target = z.looseObject({ refId: z.string(), expr: z.string().min(1) });
const Panel = z.looseObject({
  id: z.number().int(),
  type: z.string(),
  title: z.string().min(1),
  datasource: z.looseObject({ type: z.literal('prometheus'), uid: z.literal('${datasource}') }),
  gridPos: z.looseObject({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
  targets: z.array(Target).min(1),
});
const Dashboard = z.looseObject({
  uid: z.string().min(1),
  title: z.string().min(1),
  schemaVersion: z.number(),
  panels: z.array(Panel).min(1),
  templating: z.looseObject({ list: z.array(z.looseObject({ name: z.string(), type: z.string(), query: z.unknown().optional() })) }),
});

/** Metric names in a PromQL expression: identifiers directly followed by a selector `{` or a range `[`. */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)) names.add(m[1] ?? '');
  for (const m of expr.matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/g)) names.add(m[1] ?? '');
  return [...names];
}

/** Every sample name the webhook's /metrics can serve (histograms as _bucket, _sum, _count). */
async function webhookMetricNames(): Promise<Set<string>> {
  const text = await createMetrics().registry.metrics();
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

let dashboard: z.infer<typeof Dashboard>;
let served: Set<string>;

beforeAll(async () => {
  dashboard = Dashboard.parse(JSON.parse(await readFile(DASHBOARD, 'utf8')));
  served = await webhookMetricNames();
});

function expectKnownMetrics(where: string, expr: string): void {
  const names = metricNames(expr);
  expect(names.length, `${where}: no metric found in ${expr}`).toBeGreaterThan(0);
  for (const name of names) {
    if (WEBHOOK_PREFIXES.some((p) => name.startsWith(p))) expect(served.has(name), `${where}: the webhook serves no ${name}`).toBe(true);
    else expect(EXTERNAL_METRICS[name], `${where}: ${name} is neither the webhook's nor a known external metric`).toBeDefined();
  }
}

describe('Grafana dashboard', () => {
  it('is valid JSON with unique panel ids, each panel querying the datasource variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'job', 'namespace']));
  });

  it('covers admissions by outcome, latency, injections, raised grace, denials by namespace and certificate expiry', () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    expect(exprs).toMatch(/sum by \(outcome\) \(rate\(ws_drain_admission_requests_total/);
    expect(exprs).toContain('ws_drain_admission_duration_seconds_bucket');
    expect(exprs).toContain('ws_drain_injections_total');
    expect(exprs).toContain('ws_drain_grace_raised_total');
    expect(exprs).toMatch(/sum by \(request_namespace\) \(increase\(ws_drain_denials_total/);
    expect(exprs).toContain('certmanager_certificate_expiration_timestamp_seconds');
  });

  it('every query names a metric that exists', () => {
    for (const panel of dashboard.panels) for (const t of panel.targets) expectKnownMetrics(`panel "${panel.title}" ${t.refId}`, t.expr);
    for (const v of dashboard.templating.list) {
      const query = z.looseObject({ query: z.string() }).safeParse(v.query);
      if (query.success) expectKnownMetrics(`variable ${v.name}`, query.data.query);
    }
  });

  it('the check catches a misspelt metric (not vacuous)', () => {
    expect(() => expectKnownMetrics('test', 'rate(ws_drain_injection_total[5m])')).toThrow(/serves no ws_drain_injection_total/);
    expect(() => expectKnownMetrics('test', 'rate(apiserver_admission_webhook_rejections_total[5m])')).toThrow(/neither the webhook's nor/);
  });
});

describe('alert rules', () => {
  it('every expression names metrics that exist', async () => {
    const Rules = z.looseObject({ spec: z.looseObject({ groups: z.array(z.looseObject({ rules: z.array(z.looseObject({ alert: z.string(), expr: z.string() })) })) }) });
    const rule = one(await renderKustomize('manifests/overlays/monitoring'), 'PrometheusRule', Rules);
    for (const r of rule.spec.groups.flatMap((g) => g.rules)) expectKnownMetrics(r.alert, r.expr);
  });
});
