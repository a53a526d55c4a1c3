// One pod termination under load, end to end, with real processes:
//   old pod (ws-server in its own netns + pid ns) ← balancer ← N clients
//   new pod (another ws-server) standing by behind the balancer
// At "delete": the balancer keeps sending NEW connections to the old pod for
// lagMs, then to the new one (established connections are never cut), and at
// the same moment kubelet's sequence starts (preStop → SIGTERM → SIGKILL at the
// end of the grace period). Everything is measured, nothing is asserted here.
import path from 'node:path';
import { ClientFleet, peakRate, type FleetReport } from '../../../examples/ws-client/fleet.js';
import { exampleServerBundle } from './app-bundle.js';
import { TcpBalancer } from './balancer.js';
import { REPO_ROOT } from './helper-binary.js';
import { terminatePod, type PreStopExec, type TerminationTimeline } from './kubelet.js';
import { PodSandbox } from './pod-sandbox.js';
import { APP_PORT, preStopFromWebhook, type InjectedPreStop } from './webhook-argv.js';

export type ScenarioKind = 'default-kubernetes' | 'articles' | 'ws-drain';

export interface ScenarioOptions {
  kind: ScenarioKind;
  label?: string;
  clients: number;
  /** Endpoint-removal propagation lag of the balancer. */
  lagMs: number;
  sendIntervalMs: number;
  /** Steady state before the delete. */
  settleMs: number;
  /** Observation after the old pod exited and every client is back. */
  afterMs: number;
  /** Give up waiting for clients to reach the new pod after this. */
  reconnectTimeoutMs: number;
  /** ws-drain: pod annotations, run through the webhook's decide(). */
  annotations?: Record<string, string>;
  /** ws-drain: the installed helper binary. */
  installedHelper?: string;
  /** ws-drain: the app's stagger window. */
  staggerMs?: number;
  /** articles: `sleep N` preStop and the grace period written by hand. */
  articlesSleepSeconds?: number;
  articlesGraceSeconds?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export interface ScenarioResult {
  kind: ScenarioKind;
  label: string;
  clients: number;
  lagMs: number;
  preStop?: string[];
  injected?: InjectedPreStop;
  timeline: TerminationTimeline;
  fleet: FleetReport;
  /** Connect attempts that failed before the WebSocket opened (refused, reset, failed upgrade). */
  refusedConnects: number;
  abnormalCloses: number;
  lostMessages: number;
  closeCodes: Record<string, number>;
  oldPodCloseCodes: Record<string, number>;
  oldPodSessionsAtDelete: number;
  peakReconnectsPerSecond: number;
  deleteToExitMs: number;
  lastOldConnectionClosedAt: number;
  aliveAfterLastCloseMs: number;
  connectedToNewAtEnd: number;
  /** Active connections per pod over time, t relative to the delete. */
  series: Array<{ t: number; old: number; new: number }>;
  oldPodLogs: Array<Record<string, unknown>>;
}

const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function appArgv(name: string, kind: ScenarioKind, staggerMs: number, signal: string | undefined): string[] {
  const argv = [process.execPath, exampleServerBundle(), '--port', String(APP_PORT), '--host', '0.0.0.0', '--name', name];
  if (kind === 'default-kubernetes') argv.push('--exit-on-sigterm');
  else if (kind === 'articles') argv.push('--naive');
  else argv.push('--stagger', `${staggerMs}ms`, '--drain-signal', signal ?? 'SIGUSR1');
  return argv;
}

function appEnv(podName: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // The node binary lives wherever the harness's does; keep it reachable.
  return { PATH: `${path.dirname(process.execPath)}:${CONTAINER_PATH}`, HOSTNAME: podName, ...extra };
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const label = o.label ?? o.kind;
  let injected: InjectedPreStop | undefined;
  let preStop: PreStopExec | undefined;
  let graceSeconds = 30;
  if (o.kind === 'ws-drain') {
    if (!o.annotations || !o.installedHelper) throw new Error('ws-drain scenario needs annotations and installedHelper');
    injected = preStopFromWebhook(o.annotations, o.installedHelper);
    preStop = { command: injected.command, env: { PATH: CONTAINER_PATH, HOSTNAME: 'ws-echo-old', ...injected.env }, cwd: injected.cwd };
    graceSeconds = injected.graceSeconds;
  } else if (o.kind === 'articles') {
    preStop = { command: ['sleep', String(o.articlesSleepSeconds ?? 20)], env: { PATH: CONTAINER_PATH, HOSTNAME: 'ws-echo-old' }, cwd: '/' };
    graceSeconds = o.articlesGraceSeconds ?? 30;
  }

  const oldPod = PodSandbox.create('old');
  const newPod = PodSandbox.create('new');
  let balancer: TcpBalancer | undefined;
  let fleet: ClientFleet | undefined;
  try {
    const staggerMs = o.staggerMs ?? 5000;
    await Promise.all([
      oldPod.startApp(appArgv('old', o.kind, staggerMs, injected?.plan.signal), { cwd: REPO_ROOT, env: appEnv('ws-echo-old', injected?.env), readyEvent: 'listening' }),
      // The new replica drains the same way; it is only the target of reconnects here.
      newPod.startApp(appArgv('new', o.kind, staggerMs, injected?.plan.signal), { cwd: REPO_ROOT, env: appEnv('ws-echo-new', injected?.env), readyEvent: 'listening' }),
    ]);
    balancer = new TcpBalancer([{ name: 'old', host: oldPod.podIp, port: APP_PORT }]);
    const port = await balancer.listen();
    fleet = new ClientFleet({
      url: `ws://127.0.0.1:${port}`,
      clients: o.clients,
      sendIntervalMs: o.sendIntervalMs,
      rampMs: Math.max(500, o.clients),
      ...(o.backoffBaseMs !== undefined ? { backoffBaseMs: o.backoffBaseMs } : {}),
      ...(o.backoffCapMs !== undefined ? { backoffCapMs: o.backoffCapMs } : {}),
    });
    await fleet.start(60_000);
    await sleep(o.settleMs);

    // --- delete ---
    const deletedAt = Date.now();
    const oldPodSessionsAtDelete = balancer.activeConnections('old');
    balancer.addBackend({ name: 'new', host: newPod.podIp, port: APP_PORT }, { standby: true });
    void balancer.removeBackend('old', o.lagMs);
    const timeline = await terminatePod(oldPod, graceSeconds, preStop, deletedAt);

    const until = Date.now() + o.reconnectTimeoutMs;
    while (Date.now() < until && (fleet.connectedByPod().get('new') ?? 0) < o.clients) await sleep(100);
    await sleep(o.afterMs);
    const connectedToNewAtEnd = fleet.connectedByPod().get('new') ?? 0;
    const stoppedAt = Date.now();
    const report = await fleet.stop();
    fleet = undefined;

    const oldConns = balancer.connections.filter((c) => c.backend === 'old');
    const lastOldConnectionClosedAt = Math.max(...oldConns.map((c) => c.closedAt ?? timeline.exitedAt));
    // Up to the end of the observation: the clients' own shutdown is not part of the drain.
    const series = balancer.samples.filter((s) => s.t <= stoppedAt).map((s) => ({ t: s.t - deletedAt, old: s.active['old'] ?? 0, new: s.active['new'] ?? 0 }));

    return {
      kind: o.kind,
      label,
      clients: o.clients,
      lagMs: o.lagMs,
      preStop: preStop?.command,
      injected,
      timeline,
      fleet: report,
      refusedConnects: report.refused.length,
      abnormalCloses: report.closes.filter((c) => c.code === 1006).length,
      lostMessages: report.lost.length,
      closeCodes: histogram(report.closes.map((c) => c.code)),
      oldPodCloseCodes: histogram(report.closes.filter((c) => c.pod === 'old').map((c) => c.code)),
      oldPodSessionsAtDelete,
      peakReconnectsPerSecond: peakRate(report.opens.filter((e) => e.pod === 'new' && e.t >= deletedAt).map((e) => e.t)),
      deleteToExitMs: timeline.exitedAt - deletedAt,
      lastOldConnectionClosedAt,
      aliveAfterLastCloseMs: timeline.exitedAt - lastOldConnectionClosedAt,
      connectedToNewAtEnd,
      series,
      oldPodLogs: oldPod.jsonLogs(),
    };
  } finally {
    if (fleet) await fleet.stop();
    await balancer?.close();
    await Promise.all([oldPod.destroy(), newPod.destroy()]);
  }
}

function histogram(values: number[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const v of values) h[v] = (h[v] ?? 0) + 1;
  return h;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One line per scenario for logs and test output. */
export function describeResult(r: ScenarioResult): string {
  const pre = r.timeline.preStop ? `preStop ${r.timeline.preStop.endedAt - r.timeline.preStop.startedAt} ms (exit ${r.timeline.preStop.exitCode})` : 'no preStop';
  return (
    `${r.label}: clients=${r.clients} refused=${r.refusedConnects} abnormal(1006)=${r.abnormalCloses} lost=${r.lostMessages} ` +
    `closes=${JSON.stringify(r.closeCodes)} oldPodCloses=${JSON.stringify(r.oldPodCloseCodes)} peakReconnects/s=${r.peakReconnectsPerSecond} ` +
    `deleteToExit=${r.deleteToExitMs} ms aliveAfterLastClose=${r.aliveAfterLastCloseMs} ms ${pre} grace=${r.timeline.graceSeconds}s` +
    `${r.timeline.sigkillAt ? ' SIGKILLED' : ''} newPodConnected=${r.connectedToNewAtEnd}/${r.clients}`
  );
}
