// Drain benchmark: one pod termination under N WebSocket clients, three ways,
// on real processes (see test/lifecycle/harness): default Kubernetes, the
// articles' hand-written recipe, and ws-drain's injected preStop.
//
//   npx tsx bench/drain.ts [--clients 1000] [--quick] [--real-node]
//
// --real-node also runs the three scenarios on a real one-node cluster
// (test/node: kubelet, containerd, kube-proxy, ws-drain installed with
// kubectl apply -k) and prints its figures beside the harness's, so the
// harness is checked against reality.
//
// Needs root (network + PID namespaces), iproute2 and util-linux, and the
// helper binary (built with helper/build.sh when missing). Prints a table,
// writes bench/results/drain.svg (connections over time; with --real-node also
// drain-real-node.svg) and
// bench/results/drain.json (raw numbers), and exits 1 when ws-drain misses a target.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { installHelper, REPO_ROOT } from '../test/lifecycle/harness/helper-binary.js';
import { runScenario, type ScenarioOptions, type ScenarioResult } from '../test/lifecycle/harness/scenario.js';
import { drainChartSvg } from './lib/drain-chart.js';
import { runRealScenario, type RealScenarioOptions, type RealScenarioResult } from './lib/real-node.js';

const Flags = z.object({
  clients: z.coerce.number({ message: '--clients must be a number' }).int().min(1, '--clients must be at least 1').max(5000, '--clients above 5000 needs more than one client process').default(1000),
  quick: z.boolean().default(false),
  'real-node': z.boolean().default(false),
});

let flags: z.infer<typeof Flags>;
try {
  const parsed = Flags.safeParse(parseArgs({ options: { clients: { type: 'string' }, quick: { type: 'boolean' }, 'real-node': { type: 'boolean' } }, strict: true, allowPositionals: false }).values);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  flags = parsed.data;
} catch (err) {
  process.stderr.write(`bench/drain: ${(err as Error).message}\nusage: npx tsx bench/drain.ts [--clients 1000] [--quick] [--real-node]\n`);
  process.exit(2);
}

// Each client holds 3 fds in this process (its socket and both proxy ends).
ensureOpenFileLimit(flags.clients * 3 + 512);

/**
 * The default run uses the real numbers: kube-proxy/ingress lag 5 s, the
 * articles' `sleep 20` with the default 30 s grace, and ws-drain's defaults
 * (D=20s, C=10s, M=30%) with session-p95 2m and an app that staggers its
 * 1001 closes over 30 s (examples/k8s/ws-echo.yaml). --quick scales the times down.
 */
interface BenchSettings {
  lagMs: number;
  articlesSleep: number;
  articlesGrace: number;
  staggerMs: number;
  annotations: Record<string, string>;
}
const settings: BenchSettings = flags.quick
  ? { lagMs: 2000, articlesSleep: 5, articlesGrace: 10, staggerMs: 5000, annotations: { 'ws-drain/session-p95': '30s', 'ws-drain/prestop-delay': '5s', 'ws-drain/cleanup': '2s', 'ws-drain/drain-signal': 'SIGUSR1' } }
  : { lagMs: 5000, articlesSleep: 20, articlesGrace: 30, staggerMs: 30_000, annotations: { 'ws-drain/session-p95': '2m', 'ws-drain/drain-signal': 'SIGUSR1' } };

async function main(): Promise<void> {
  const helper = installHelper();
  const common: Omit<ScenarioOptions, 'kind'> = {
    clients: flags.clients,
    lagMs: settings.lagMs,
    sendIntervalMs: 1000,
    settleMs: 2000,
    afterMs: 2000,
    reconnectTimeoutMs: 90_000,
  };
  const runs: Array<ScenarioOptions> = [
    { ...common, kind: 'default-kubernetes', label: 'default Kubernetes' },
    { ...common, kind: 'articles', label: `articles' recipe (sleep ${settings.articlesSleep}s)`, articlesSleepSeconds: settings.articlesSleep, articlesGraceSeconds: settings.articlesGrace },
    { ...common, kind: 'ws-drain', label: 'ws-drain', annotations: settings.annotations, installedHelper: helper, staggerMs: settings.staggerMs },
  ];
  const results: ScenarioResult[] = [];
  for (const run of runs) {
    process.stderr.write(`running ${run.label} with ${run.clients} clients…\n`);
    const r = await runScenario(run);
    results.push(r);
    process.stderr.write(`  done: exit ${(r.deleteToExitMs / 1000).toFixed(1)} s after delete, ${r.connectedToNewAtEnd}/${r.clients} clients on the new pod\n`);
  }

  const real = flags['real-node'] ? await realNodeResults() : undefined;

  const wsDrain = results[2] as ScenarioResult;
  const staggerS = settings.staggerMs / 1000;
  const rateTarget = (2 * flags.clients) / staggerS;
  const targets = [
    { name: 'refused connects = 0', ok: wsDrain.refusedConnects === 0 },
    { name: 'abnormal closes (1006) = 0', ok: wsDrain.abnormalCloses === 0 },
    { name: 'lost messages = 0', ok: wsDrain.lostMessages === 0 },
    { name: `peak reconnects/s ≤ 2 × N / stagger = ${rateTarget.toFixed(0)}`, ok: wsDrain.peakReconnectsPerSecond <= rateTarget },
    { name: 'exit ≤ 1 s after the last connection closed', ok: wsDrain.aliveAfterLastCloseMs <= 1000 },
    { name: 'every client back on the new pod', ok: wsDrain.connectedToNewAtEnd === flags.clients },
  ];

  const out: string[] = [];
  out.push(`Drain benchmark: ${flags.clients} clients, 1 message/s each, balancer lag ${settings.lagMs / 1000} s${flags.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(table(results));
  out.push('');
  for (const r of results) out.push(`- ${r.label}: ${details(r)}`);
  out.push('');
  if (real) {
    out.push('Harness vs real node (kubelet, containerd, kube-proxy; `kubectl delete pod` with a second replica Ready):');
    out.push('');
    out.push(sideBySide(results, real));
    out.push('');
    for (const r of real) out.push(`- real node, ${r.label}: grace ${r.graceSeconds} s; old-pod close codes ${JSON.stringify(r.oldPodCloseCodes)}; failed connects ${JSON.stringify(r.refusedReasons)}`);
    out.push('');
  }
  out.push('ws-drain targets:');
  for (const t of targets) out.push(`  ${t.ok ? 'PASS' : 'FAIL'}  ${t.name}`);
  process.stdout.write(out.join('\n') + '\n');

  const dir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const panels = results.map((r) => ({
    title: r.label,
    subtitle: `refused ${r.refusedConnects} · 1006 ${r.abnormalCloses} · lost ${r.lostMessages} · peak ${r.peakReconnectsPerSecond} reconnects/s · exit ${(r.deleteToExitMs / 1000).toFixed(1)} s after delete`,
    points: r.series.filter((p) => p.t >= -common.settleMs - 1000),
    markers: markers(r),
  }));
  writeFileSync(path.join(dir, 'drain.svg'), drainChartSvg(panels, flags.clients));
  if (real) {
    const realPanels = real.map((r) => ({
      title: `${r.label} (real node)`,
      subtitle: `refused ${r.refusedConnects} · 1006 ${r.abnormalCloses} · lost ${r.lostMessages} · peak ${r.peakReconnectsPerSecond} reconnects/s · pod gone ${(r.deleteToGoneMs / 1000).toFixed(1)} s after delete`,
      points: r.series,
      markers: [
        { t: 0, label: 'delete' },
        { t: r.deleteToGoneMs, label: 'pod gone' },
      ],
    }));
    writeFileSync(path.join(dir, 'drain-real-node.svg'), drainChartSvg(realPanels, flags.clients));
  }
  writeFileSync(
    path.join(dir, 'drain.json'),
    JSON.stringify({ clients: flags.clients, quick: flags.quick, settings, results: results.map((r) => ({ ...r, fleet: undefined, series: undefined, oldPodLogs: undefined })), realNode: real?.map((r) => ({ ...r, series: undefined })), targets }, null, 2),
  );
  process.stderr.write(`wrote ${path.relative(process.cwd(), path.join(dir, 'drain.svg'))}${real ? ', drain-real-node.svg' : ''} and drain.json\n`);
  // Exit explicitly: with thousands of proxied sockets just closed, Node's
  // environment teardown can spin in CleanupHandles for minutes.
  process.exit(targets.every((t) => t.ok) ? 0 : 1);
}

/** The same three scenarios on a real node: started, ws-drain installed, run, torn down. */
async function realNodeResults(): Promise<RealScenarioResult[]> {
  const { startNode } = await import('../test/node/node.js');
  const { installWsDrain } = await import('../test/node/install.js');
  const node = await startNode();
  try {
    await installWsDrain(node);
    const common = { clients: flags.clients, sendIntervalMs: 1000, settleMs: 2000, stagger: `${settings.staggerMs}ms` };
    const runs: RealScenarioOptions[] = [
      { ...common, kind: 'default-kubernetes', label: 'default Kubernetes' },
      { ...common, kind: 'articles', label: `articles' recipe (sleep ${settings.articlesSleep}s)`, articlesSleepSeconds: settings.articlesSleep, articlesGraceSeconds: settings.articlesGrace },
      { ...common, kind: 'ws-drain', label: 'ws-drain', annotations: settings.annotations },
    ];
    const out: RealScenarioResult[] = [];
    for (const run of runs) {
      process.stderr.write(`running ${run.label} on the real node with ${run.clients} clients…\n`);
      out.push(await runRealScenario(node, run));
    }
    return out;
  } finally {
    await node.stop();
  }
}

function sideBySide(harness: ScenarioResult[], real: RealScenarioResult[]): string {
  const rows: Array<[string, (h: ScenarioResult) => string, (r: RealScenarioResult) => string]> = [
    ['refused connects', (h) => String(h.refusedConnects), (r) => String(r.refusedConnects)],
    ['abnormal closes (1006)', (h) => String(h.abnormalCloses), (r) => String(r.abnormalCloses)],
    ['lost messages', (h) => String(h.lostMessages), (r) => String(r.lostMessages)],
    ['peak reconnects/s at new pod', (h) => String(h.peakReconnectsPerSecond), (r) => String(r.peakReconnectsPerSecond)],
    ['delete → exit (harness) / pod gone (real)', (h) => `${(h.deleteToExitMs / 1000).toFixed(1)} s`, (r) => `${(r.deleteToGoneMs / 1000).toFixed(1)} s`],
    ['after last connection closed', (h) => `${Math.max(0, h.aliveAfterLastCloseMs)} ms`, (r) => `${Math.max(0, r.goneAfterLastCloseMs)} ms`],
  ];
  const pairs = harness.map((h, i) => [h, real[i]!] as const);
  const header = `| | ${pairs.map(([h]) => `${h.label}: harness | real`).join(' | ')} |`;
  const rule = `| --- | ${pairs.map(() => '---: | ---:').join(' | ')} |`;
  return [header, rule, ...rows.map(([name, h, r]) => `| ${name} | ${pairs.map(([hh, rr]) => `${h(hh)} | ${r(rr)}`).join(' | ')} |`)].join('\n');
}

function table(results: ScenarioResult[]): string {
  const rows: Array<[string, (r: ScenarioResult) => string]> = [
    ['refused connects', (r) => String(r.refusedConnects)],
    ['abnormal closes (1006)', (r) => String(r.abnormalCloses)],
    ['lost messages', (r) => String(r.lostMessages)],
    ['peak reconnects/s at new pod', (r) => String(r.peakReconnectsPerSecond)],
    ['delete → process exit', (r) => `${(r.deleteToExitMs / 1000).toFixed(1)} s`],
    ['alive after last connection closed', (r) => `${Math.max(0, r.aliveAfterLastCloseMs)} ms`],
  ];
  const header = `| | ${results.map((r) => r.label).join(' | ')} |`;
  const rule = `| --- | ${results.map(() => '---:').join(' | ')} |`;
  return [header, rule, ...rows.map(([name, get]) => `| ${name} | ${results.map(get).join(' | ')} |`)].join('\n');
}

function details(r: ScenarioResult): string {
  const t = r.timeline;
  const pre = t.preStop ? `preStop \`${shortArgv(r.preStop ?? [])}\` ran ${((t.preStop.endedAt - t.preStop.startedAt) / 1000).toFixed(1)} s (exit ${t.preStop.exitCode})` : 'no preStop';
  return `${pre}; grace ${t.graceSeconds} s${t.sigkillAt ? '; SIGKILLed' : ''}; old-pod close codes ${JSON.stringify(r.oldPodCloseCodes)}; ${r.connectedToNewAtEnd}/${r.clients} on the new pod at the end`;
}

function shortArgv(argv: string[]): string {
  return argv.map((a, i) => (i === 0 ? path.basename(a) : a)).join(' ');
}

function markers(r: ScenarioResult): Array<{ t: number; label: string }> {
  const t0 = r.timeline.deletedAt;
  const m = [
    { t: 0, label: 'delete' },
    { t: r.lagMs, label: 'balancer updated' },
  ];
  if (r.timeline.preStop) m.push({ t: r.timeline.sigtermAt - t0, label: 'SIGTERM' });
  m.push({ t: r.timeline.exitedAt - t0, label: 'exit' });
  return m;
}

/** Re-executes under a raised `ulimit -n` when the soft limit is too low for N clients. */
function ensureOpenFileLimit(needed: number): void {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  const soft = m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? 0);
  const hard = m?.[2] === 'unlimited' ? Infinity : Number(m?.[2] ?? 0);
  if (soft >= needed) return;
  if (hard < needed || process.env['WS_DRAIN_BENCH_REEXEC'] === '1') {
    process.stderr.write(`bench/drain: ${flags.clients} clients need ${needed} open files; the limit is ${soft} (hard ${hard}). Raise it (ulimit -n ${needed}) or use fewer --clients.\n`);
    process.exit(2);
  }
  const r = spawnSync('sh', ['-c', `ulimit -n ${needed} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, WS_DRAIN_BENCH_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/drain: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
