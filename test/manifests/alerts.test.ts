// The alerts of manifests/components/monitoring (also what the chart renders:
// chart.test.ts) run through promtool, built from the pinned Prometheus module
// (tools/promtool): the rules load, every case in alerts.promtool.yaml passes,
// every alert has a case where it fires and one where it must not, a broken
// expression fails its case, and every runbook_url is an anchor of docs/runbooks.md.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { headingAnchors } from '../docs/markdown.js';
import { one } from './objects.js';
import { REPO_ROOT, buildTool, renderKustomize, run, type RunResult } from './render.js';

const PROMTOOL_CASES = join(REPO_ROOT, 'test', 'manifests', 'alerts.promtool.yaml');
const RUNBOOKS = 'docs/runbooks.md';
const RUNBOOKS_URL = `https://github.com/ws-drain/ws-drain/blob/main/${RUNBOOKS}`;

const Rule = z.looseObject({
  alert: z.string(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  annotations: z.looseObject({ summary: z.string(), description: z.string(), runbook_url: z.string() }),
});
const Rules = z.looseObject({ spec: z.looseObject({ groups: z.array(z.looseObject({ name: z.string(), rules: z.array(Rule) })) }) });
type Groups = z.infer<typeof Rules>['spec']['groups'];

const Cases = z.object({
  rule_files: z.array(z.string()),
  evaluation_interval: z.string().optional(),
  tests: z.array(
    z.looseObject({
      name: z.string(),
      alert_rule_test: z.array(z.looseObject({ alertname: z.string(), exp_alerts: z.array(z.looseObject({})) })),
    }),
  ),
});

let promtool: string;
let scratch: string;
let groups: Groups;

/**
 * Writes the groups as a Prometheus rule file next to the cases and runs
 * `promtool test rules` on them (only the cases whose name matches `only`).
 */
async function testRules(ruleGroups: Groups, only?: string): Promise<RunResult> {
  const dir = await mkdtemp(join(scratch, 'case-'));
  await writeFile(join(dir, 'rules.yaml'), stringifyYaml({ groups: ruleGroups }));
  await copyFile(PROMTOOL_CASES, join(dir, 'alerts.promtool.yaml'));
  return run(promtool, ['test', 'rules', ...(only ? ['--run', only] : []), 'alerts.promtool.yaml'], { cwd: dir, echoStderr: false });
}

beforeAll(async () => {
  promtool = await buildTool('promtool');
  scratch = await mkdtemp(join(tmpdir(), 'ws-drain-alerts-'));
  const objects = await renderKustomize('manifests/overlays/monitoring');
  groups = one(objects, 'PrometheusRule', Rules).spec.groups;
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const alerts = () => groups.flatMap((g) => g.rules);

describe('alert rules (promtool)', () => {
  it('promtool check rules accepts the rule file', async () => {
    const file = join(scratch, 'check.yaml');
    await writeFile(file, stringifyYaml({ groups }));
    const result = await run(promtool, ['check', 'rules', file], { cwd: scratch, echoStderr: false });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`SUCCESS: ${alerts().length} rules found`));
  });

  it('every case of alerts.promtool.yaml passes', async () => {
    const result = await testRules(groups);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('every alert has a case where it fires and one where it must not', async () => {
    const cases = Cases.parse(parseYaml(await readFile(PROMTOOL_CASES, 'utf8')));
    const checks = cases.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of alerts()) {
      const mine = checks.filter((c) => c.alertname === alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${alert} fires in some case`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${alert} stays quiet in some case`).toBe(true);
    }
    // And no case tests an alert that does not exist (a rename would leave it testing nothing).
    const names = new Set(alerts().map((a) => a.alert));
    for (const c of checks) expect(names.has(c.alertname), `case for unknown alert ${c.alertname}`).toBe(true);
  });

  it('fails the certificate cases when the rule filters on `namespace` only (the cert-manager label trap)', async () => {
    const broken = structuredClone(groups);
    for (const rule of broken.flatMap((g) => g.rules)) {
      if (rule.alert !== 'WsDrainCertificateExpiresSoon') continue;
      rule.expr = 'certmanager_certificate_expiration_timestamp_seconds{namespace="ws-drain-system"} - time() < 14 * 24 * 3600';
    }
    const result = await testRules(broken, '^certificate expiring');
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/alertname: WsDrainCertificateExpiresSoon/);
  });

  it('fails the injections case when the rule only looks at the last 6 hours', async () => {
    const broken = structuredClone(groups);
    for (const rule of broken.flatMap((g) => g.rules)) {
      if (rule.alert === 'WsDrainInjectionsStopped') rule.expr = 'sum(increase(ws_drain_injections_total[6h])) == 0';
    }
    const result = await testRules(broken, '^injections');
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/alertname: WsDrainInjectionsStopped/);
  });
});

describe('runbooks', () => {
  it('every alert has a severity and a runbook_url pointing at a heading of docs/runbooks.md that exists', async () => {
    const runbooks = await readFile(join(REPO_ROOT, RUNBOOKS), 'utf8');
    const anchors = headingAnchors(runbooks);
    for (const rule of alerts()) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels['severity']);
      const url = rule.annotations.runbook_url;
      expect(url.startsWith(`${RUNBOOKS_URL}#`), `${rule.alert}: ${url}`).toBe(true);
      const anchor = url.slice(RUNBOOKS_URL.length + 1);
      expect(anchors.has(anchor), `${rule.alert}: ${RUNBOOKS} has no heading with anchor #${anchor}`).toBe(true);
    }
  });
});
