// The drain benchmark's three scenarios on the real node (test/node): the
// example server as a one-replica Deployment holding every client, a second
// replica made Ready, then `kubectl delete pod` of the first — the harness's
// single pod termination, with the real kubelet, kube-proxy and EndpointSlice
// controller in place of the harness's re-enactment and balancer.
import { peakRate, type FleetReport } from '../../examples/ws-client/fleet.js';
import type { RealNode } from '../../test/node/node.js';
import { underLoad, waitForRoutes } from '../../test/node/scenario.js';
import { applyObjects, exampleWorkload, waitForReady } from '../../test/node/workload.js';

export type RealKind = 'default-kubernetes' | 'articles' | 'ws-drain';

export interface RealScenarioOptions {
  kind: RealKind;
  label: string;
  clients: number;
  sendIntervalMs: number;
  settleMs: number;
  /** ws-drain scenario */
  annotations?: Record<string, string>;
  stagger: string;
  /** articles scenario */
  articlesSleepSeconds?: number;
  articlesGraceSeconds?: number;
}

export interface RealScenarioResult {
  label: string;
  clients: number;
  refusedConnects: number;
  abnormalCloses: number;
  lostMessages: number;
  peakReconnectsPerSecond: number;
  /** `kubectl delete pod` → the pod object gone from the API (the kubelet confirmed the containers stopped). */
  deleteToGoneMs: number;
  goneAfterLastCloseMs: number;
  graceSeconds: number;
  oldPodCloseCodes: Record<string, number>;
  /** Why connects failed (ECONNREFUSED, ECONNRESET, handshake timeout, HTTP status), counted. */
  refusedReasons: Record<string, number>;
  /** Open connections on the old pod and on the others, t in ms relative to the delete (the chart's input). */
  series: Array<{ t: number; old: number; new: number }>;
}

/**
 * Connections per side over time, from the clients' own open and close events
 * (a connection counts from the server's hello, which names the pod, to its
 * close), t relative to t0, drawn from `fromMs` to `untilMs`: what happened
 * before `fromMs` is folded into the first point.
 */
export function connectionSeries(report: FleetReport, oldPod: string, t0: number, fromMs: number, untilMs: number): Array<{ t: number; old: number; new: number }> {
  const events = [
    ...report.opens.map((e) => ({ t: e.t - t0, pod: e.pod, delta: 1 })),
    ...report.closes.filter((e) => e.pod !== '').map((e) => ({ t: e.t - t0, pod: e.pod, delta: -1 })),
  ].sort((a, b) => a.t - b.t);
  let old = 0;
  let fresh = 0;
  const points: Array<{ t: number; old: number; new: number }> = [];
  for (const e of events) {
    if (e.t >= fromMs && points.length === 0) points.push({ t: fromMs, old, new: fresh });
    if (e.pod === oldPod) old += e.delta;
    else fresh += e.delta;
    if (e.t >= fromMs) points.push({ t: e.t, old, new: fresh });
  }
  if (points.length === 0) points.push({ t: fromMs, old, new: fresh });
  points.push({ t: Math.max(untilMs, points[points.length - 1]!.t), old, new: fresh });
  return points;
}

const NS = 'default';

export async function runRealScenario(node: RealNode, o: RealScenarioOptions): Promise<RealScenarioResult> {
  const app = `bench-${o.kind}`;
  await applyObjects(
    node,
    await exampleWorkload({
      name: app,
      namespace: NS,
      image: node.images.wsEcho,
      wsDrain: o.kind === 'ws-drain',
      replicas: 1,
      stagger: o.stagger,
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.kind === 'default-kubernetes' ? { extraArgs: ['--exit-on-sigterm'] } : {}),
      ...(o.kind === 'articles' ? { extraArgs: ['--naive'], preStopSleepSeconds: o.articlesSleepSeconds ?? 20, graceSeconds: o.articlesGraceSeconds ?? 30 } : {}),
    }),
  );
  let deletedAt = 0;
  let graceSeconds = 30;
  try {
    const run = await underLoad(node, {
      namespace: NS,
      app,
      clients: o.clients,
      replicas: 1,
      replicasAfter: 2,
      sendIntervalMs: o.sendIntervalMs,
      settleMs: o.settleMs,
      async disrupt([old]) {
        // A Ready second replica first, as in the harness (the new pod is up before the old one goes).
        await node.kubectl(['-n', NS, 'scale', `deployment/${app}`, '--replicas=2']);
        const both = await waitForReady(node, NS, app, 2);
        await waitForRoutes(both);
        graceSeconds = old!.spec.terminationGracePeriodSeconds ?? 30;
        deletedAt = Date.now();
        await node.kubectl(['-n', NS, 'delete', 'pod', old!.metadata.name, '--wait=false']);
        return [old!];
      },
    });
    const oldName = run.oldPods[0]!.metadata.name;
    const oldCloses = run.report.closes.filter((c) => c.pod === oldName);
    const codes: Record<string, number> = {};
    for (const c of oldCloses) codes[c.code] = (codes[c.code] ?? 0) + 1;
    const goneAt = run.goneAt.get(oldName) ?? Date.now();
    const lastClose = oldCloses.length > 0 ? Math.max(...oldCloses.map((c) => c.t)) : goneAt;
    return {
      label: o.label,
      clients: o.clients,
      refusedConnects: run.report.refused.length,
      abnormalCloses: run.report.closes.filter((c) => c.code === 1006).length,
      lostMessages: run.report.lost.length,
      peakReconnectsPerSecond: peakRate(run.report.opens.filter((e) => e.t >= deletedAt && e.pod !== oldName).map((e) => e.t)),
      deleteToGoneMs: goneAt - deletedAt,
      goneAfterLastCloseMs: goneAt - lastClose,
      graceSeconds,
      oldPodCloseCodes: codes,
      series: connectionSeries(run.report, oldName, deletedAt, -(o.settleMs + 1000), goneAt - deletedAt + 500),
      refusedReasons: run.report.refused.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.reason]: (acc[r.reason] ?? 0) + 1 }), {}),
    };
  } finally {
    await node.kubectl(['-n', NS, 'delete', 'deployment,service', app, '--wait=false']).catch(() => undefined);
  }
}
