// One disruption of a Deployment on the real node under WebSocket load: a
// client fleet through the Service's ClusterIP, the disruption (rollout
// restart, kubectl delete pod), then wait until the old pods are gone and the
// replacements are ready. Shared by the real-node suite and bench/drain.ts
// --real-node; what it records is what the kubelet, kube-proxy and the
// EndpointSlice controller actually did to the clients.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ClientFleet, type FleetReport } from '../../examples/ws-client/fleet.js';
import type { RealNode } from './node.js';

const execFileAsync = promisify(execFile);
import { clusterIp, KubectlStream, listPods, waitFor, waitForReady, type PodObject } from './workload.js';

export interface DisruptionOptions {
  namespace: string;
  app: string;
  clients: number;
  /** Pods that must be Ready before the fleet starts. */
  replicas: number;
  sendIntervalMs?: number;
  /** Between the fleet being connected and the disruption. */
  settleMs?: number;
  /** Starts the disruption; given the pods that were Ready. Resolves the pods it disrupts. */
  disrupt(pods: PodObject[]): Promise<PodObject[]>;
  /** Ready pods to wait for after the disruption (default: replicas). */
  replicasAfter?: number;
}

export interface DisruptionRun {
  report: FleetReport;
  /** JSON lines from `kubectl logs -f` of each disrupted pod, kept while it terminated. */
  oldPodLogs: Map<string, Array<Record<string, unknown>>>;
  oldPods: PodObject[];
  disruptedAt: number;
  /** When each disrupted pod was last seen in the API (polled every 100 ms). */
  goneAt: Map<string, number>;
}

/** Until kube-proxy's nat rules send traffic to every given pod (its DNAT targets name podIP:port). */
export async function waitForRoutes(pods: PodObject[]): Promise<void> {
  const ips = pods.map((p) => (p.status as { podIP?: string } | undefined)?.podIP).filter((ip): ip is string => ip !== undefined);
  await waitFor('kube-proxy rules for the ready pods', async () => {
    const { stdout } = await execFileAsync('iptables-save', ['-t', 'nat'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return ips.every((ip) => stdout.includes(`--to-destination ${ip}:`));
  }, 60_000);
}

export async function underLoad(node: RealNode, o: DisruptionOptions): Promise<DisruptionRun> {
  const ready = await waitForReady(node, o.namespace, o.app, o.replicas);
  const ip = await clusterIp(node, o.namespace, o.app);
  // A Ready pod is not yet a routed one: the EndpointSlice controller and
  // kube-proxy follow. Connects before that are refused, and would be counted
  // against the drain (the first real-node benchmark run did exactly that).
  await waitForRoutes(ready);
  const fleet = new ClientFleet({ url: `ws://${ip}:80`, clients: o.clients, sendIntervalMs: o.sendIntervalMs ?? 250, rampMs: Math.max(1000, o.clients) });
  const logs = new Map<string, KubectlStream>();
  const goneAt = new Map<string, number>();
  let report: FleetReport | undefined;
  let oldPods: PodObject[] = [];
  let disruptedAt = 0;
  try {
    await fleet.start(60_000);
    await new Promise((r) => setTimeout(r, o.settleMs ?? 1000));
    // Logs of every pod that may be disrupted, followed from before the disruption.
    for (const p of ready) logs.set(p.metadata.name, new KubectlStream(node, ['-n', o.namespace, 'logs', '-f', '--all-containers', '--prefix=false', p.metadata.name]));
    disruptedAt = Date.now();
    oldPods = await o.disrupt(ready);
    const pending = new Set(oldPods.map((p) => p.metadata.name));
    await waitFor('disrupted pods gone', async () => {
      const names = new Set((await listPods(node, o.namespace, o.app)).map((p) => p.metadata.name));
      for (const name of pending) {
        if (!names.has(name)) {
          goneAt.set(name, Date.now());
          pending.delete(name);
        }
      }
      return pending.size === 0;
    }, 300_000);
    await waitForReady(node, o.namespace, o.app, o.replicasAfter ?? o.replicas);
    // Every client back on a pod before the fleet stops (not asserted here: the report says).
    await waitFor('clients reconnected', async () => [...fleet.connectedByPod().values()].reduce((a, b) => a + b, 0) === o.clients, 30_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    report = await fleet.stop();
  }
  const oldPodLogs = new Map<string, Array<Record<string, unknown>>>();
  for (const [name, stream] of logs) {
    if (!oldPods.some((p) => p.metadata.name === name)) {
      await stream.stop();
      continue;
    }
    await Promise.race([stream.done, new Promise((r) => setTimeout(r, 5_000))]);
    await stream.stop();
    oldPodLogs.set(name, stream.jsonLines());
  }
  return { report, oldPodLogs, oldPods, disruptedAt, goneAt };
}
