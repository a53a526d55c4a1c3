// How long `ws-drain check` takes on a populated cluster, next to the peer that
// reads the same objects: `kubectl get` of the lists check reads (pods,
// Deployments, Services, Ingresses ... -A -o json). Both against the same real
// kube-apiserver, interleaved, median of --runs. In-process rows split check
// into its fetch (API reads + TLS probe) and its rules (pure, CPU only).
//
//   npx tsx bench/check.ts [--deployments 300] [--pods 1000] [--runs 5]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchSnapshot, KubeReader } from '../src/check/fetch.js';
import { runChecks } from '../src/check/report.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { REPO_ROOT } from '../test/e2e/controlplane/binaries.js';
import { startControlPlane } from '../test/e2e/controlplane/controlplane.js';

const { values } = parseArgs({ options: { deployments: { type: 'string', default: '300' }, pods: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } } });
const DEPLOYMENTS = Number(values.deployments);
const PODS = Number(values.pods);
const RUNS = Number(values.runs);

function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || code === 1 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`${cmd} exit ${code}: ${err}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const cp = await startControlPlane();
  try {
    const kubeconfig = join(cp.workDir, 'bench.kubeconfig');
    await writeFile(kubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
    await cp.request('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
    const started = Date.now();
    const post = async (path: string, body: object) => {
      const r = await cp.request('POST', path, body);
      if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.body}`);
    };
    const container = [{ name: 'app', image: 'registry.example/ws-app:1.0', ports: [{ name: 'ws', containerPort: 8080 }] }];
    const jobs: Array<() => Promise<void>> = [];
    for (let i = 0; i < DEPLOYMENTS; i++) {
      const labels = { app: `chat-${i}` };
      jobs.push(() =>
        post('/apis/apps/v1/namespaces/bench/deployments', {
          metadata: { name: `chat-${i}` },
          spec: { selector: { matchLabels: labels }, template: { metadata: { labels, annotations: { 'ws-drain/session-p95': '5m' } }, spec: { containers: container } } },
        }),
      );
      jobs.push(() => post('/api/v1/namespaces/bench/services', { metadata: { name: `chat-${i}` }, spec: { clusterIP: 'None', selector: labels, ports: [{ port: 80 }] } })); // headless: the e2e service range is a /24
    }
    for (let i = 0; i < PODS; i++) {
      jobs.push(() => post('/api/v1/namespaces/bench/pods', { metadata: { name: `pod-${i}`, labels: { app: `chat-${i % Math.max(1, DEPLOYMENTS)}` }, annotations: { 'ws-drain/session-p95': '5m' } }, spec: { containers: container } }));
    }
    for (let i = 0; i < jobs.length; i += 20) await Promise.all(jobs.slice(i, i + 20).map((j) => j()));
    process.stderr.write(`created ${DEPLOYMENTS} Deployments, ${DEPLOYMENTS} Services, ${PODS} pods in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    // The CLI as installed (compiled JavaScript, `npm run build`), built into a temp dir, beside the tsx run.
    const built = await mkdtemp(join(tmpdir(), 'ws-drain-check-bench-'));
    await timed(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', built]);
    await writeFile(join(built, 'package.json'), '{"type":"module"}\n');
    await symlink(join(REPO_ROOT, 'node_modules'), join(built, 'node_modules'));
    const kubectlArgs = ['--kubeconfig', kubeconfig, 'get', 'pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,services,ingresses,nodes,mutatingwebhookconfigurations', '-A', '-o', 'json'];
    const checkArgs = ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'check', '--kubeconfig', kubeconfig, '-A', '-o', 'json'];
    const builtArgs = [join(built, 'cli/main.js'), ...checkArgs.slice(3)];
    const t = { kubectl: [] as number[], check: [] as number[], built: [] as number[], fetch: [] as number[], rules: [] as number[] };
    const reader = new KubeReader(cp.kubeConfig());
    let workloads = 0;
    let findings = 0;
    for (let r = 0; r < RUNS; r++) {
      t.kubectl.push(await timed(cp.binaries.kubectl, kubectlArgs));
      t.check.push(await timed(process.execPath, checkArgs));
      t.built.push(await timed(process.execPath, builtArgs));
      const f0 = performance.now();
      const snapshot = await fetchSnapshot(reader);
      const f1 = performance.now();
      const report = runChecks(snapshot, { config: DEFAULT_CONFIG, source: 'bench' });
      const f2 = performance.now();
      t.fetch.push(f1 - f0);
      t.rules.push(f2 - f1);
      workloads = report.workloads.length;
      findings = report.findings.length;
    }
    const base = median(t.kubectl);
    const rows: Array<[string, number]> = [
      ['kubectl get (same lists) -A -o json', base],
      ['ws-drain check -A -o json (built CLI)', median(t.built)],
      ['ws-drain check -A -o json (CLI via tsx)', median(t.check)],
      ['  in process: fetch (lists + probe)', median(t.fetch)],
      ['  in process: rules + plans (pure)', median(t.rules)],
    ];
    process.stdout.write(`\nws-drain check vs kubectl get, ${DEPLOYMENTS} Deployments + ${DEPLOYMENTS} Services + ${PODS} pods (${workloads} workloads reported, ${findings} findings), median of ${RUNS} interleaved runs\n\n`);
    process.stdout.write(`${'what'.padEnd(40)}${'ms'.padStart(10)}${'× kubectl'.padStart(12)}\n`);
    for (const [name, ms] of rows) process.stdout.write(`${name.padEnd(40)}${ms.toFixed(0).padStart(10)}${(ms / base).toFixed(2).padStart(12)}\n`);
    await rm(built, { recursive: true, force: true });
  } finally {
    await cp.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
