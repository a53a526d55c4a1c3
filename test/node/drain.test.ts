// ws-drain on a real node: kubelet, containerd, kube-proxy, the EndpointSlice
// controller and a registry, nothing re-enacted (test/node/node.ts). ws-drain
// is installed with `kubectl apply -k`; the example server runs as a
// Deployment opted in by annotations only; real WebSocket clients go through
// the Service's ClusterIP. Outcomes are asserted (counts, close codes, exit
// codes, log lines, fields); timings are printed (bench/drain.ts --real-node
// reports them side by side with the harness).
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarise, type FleetReport } from '../../examples/ws-client/fleet.js';
import { REPO_ROOT } from '../e2e/controlplane/binaries.js';
import { leftovers, NODE } from './host.js';
import { expectCleanDrain } from './expect-drain.js';
import { helmTests } from './helm.js';
import { installWsDrain, WEBHOOK_NAMESPACE } from './install.js';
import { nodeStateDir, startNode, type RealNode } from './node.js';
import { podShapeTests } from './pod-shapes.js';
import { underLoad, waitForRoutes, type DisruptionRun } from './scenario.js';
import { applyObjects, clusterIp, exampleWorkload, TEST_ANNOTATIONS, waitForReady, watchPod, type PodObject } from './workload.js';

const NS = 'default';
const CLIENTS = 40;

let node: RealNode | undefined;
let stopped = false;

function readSysctls(keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, execFileSync('cat', [`/proc/sys/${k}`], { encoding: 'utf8' }).trim()]));
}

beforeAll(async () => {
  node = await startNode();
  await installWsDrain(node);
  console.log(`[node] start timings (s): ${JSON.stringify(node.timings)}`);
});

afterAll(async () => {
  if (node && !stopped) await node.stop();
});

function n(): RealNode {
  if (!node) throw new Error('the node did not start');
  return node;
}

/** The grace period `ws-drain plan` prints for the test annotations (the CLI, run as users run it). */
function planGraceSeconds(): number {
  const args = ['tsx', 'src/cli/main.ts', 'plan', '--json'];
  for (const [k, v] of Object.entries(TEST_ANNOTATIONS)) if (k !== 'ws-drain/drain-signal') args.push(`--${k.slice('ws-drain/'.length)}`, v);
  const plan = JSON.parse(execFileSync('npx', args, { cwd: REPO_ROOT, encoding: 'utf8' })) as { graceSeconds?: unknown; terminationGracePeriodSeconds?: unknown };
  const grace = plan.graceSeconds ?? plan.terminationGracePeriodSeconds;
  if (typeof grace !== 'number') throw new Error(`ws-drain plan --json printed no grace period: ${JSON.stringify(plan)}`);
  return grace;
}

/** Fleet through the ClusterIP of a 2-replica Deployment, `disrupt`, until the old pods are gone. */
async function drainRun(app: string, disrupt: (pods: PodObject[]) => Promise<PodObject[]>): Promise<DisruptionRun> {
  const run = await underLoad(n(), { namespace: NS, app, clients: CLIENTS, replicas: 2, disrupt });
  console.log(`[${app}] ${JSON.stringify(summarise(run.report))}`);
  return run;
}

const code1006 = (r: FleetReport) => r.closes.filter((c) => c.code === 1006).length;

describe('ws-drain on a real node (kubelet, containerd, kube-proxy, registry)', () => {
  it('injects the helper through the Service-reached webhook: init container ran as uid 65532 on a read-only root, grace as `ws-drain plan` says', async () => {
    await applyObjects(n(), await exampleWorkload({ name: 'ws-echo', namespace: NS, image: n().images.wsEcho, wsDrain: true }));
    const pods = await waitForReady(n(), NS, 'ws-echo', 2);
    const grace = planGraceSeconds();
    for (const pod of pods) {
      const raw = JSON.parse(await n().kubectl(['-n', NS, 'get', 'pod', pod.metadata.name, '-o', 'json'])) as Record<string, any>;
      expect(raw.metadata.annotations['ws-drain/injected']).toBeDefined();
      expect(raw.spec.terminationGracePeriodSeconds).toBe(grace);
      const init = raw.spec.initContainers[0];
      expect(init.image).toBe(n().images.helper);
      expect(init.securityContext.runAsUser).toBe(65532);
      expect(init.securityContext.readOnlyRootFilesystem).toBe(true);
      // It ran, as the kubelet reports it, and exited 0.
      expect(raw.status.initContainerStatuses[0].state.terminated.exitCode).toBe(0);
      expect(raw.status.initContainerStatuses[0].imageID).toContain('ws-drain/ws-drain-helper');
      // The image was pulled from the registry, not side-loaded.
      expect(raw.status.containerStatuses[0].imageID).toContain(`${n().registry}/ws-drain/ws-echo@sha256:`);
      const preStop = raw.spec.containers[0].lifecycle.preStop.exec.command as string[];
      expect(preStop[0]).toBe('/ws-drain/ws-drain-helper');
    }
    // The uid the install ran as, from inside the running pod's shared volume.
    const owner = await n().kubectl(['-n', NS, 'exec', pods[0]!.metadata.name, '-c', 'ws-echo', '--', '/nodejs/bin/node', '-e', "const s=require('fs').statSync('/ws-drain/ws-drain-helper');console.log(s.uid)"]);
    expect(owner.trim()).toBe('65532');
  });

  it('the webhook pod runs on the image\'s jemalloc: its process (PID 1 of the container) has it mapped', async () => {
    const pods = JSON.parse(await n().kubectl(['-n', WEBHOOK_NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=ws-drain-webhook', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> };
    expect(pods.items.length).toBeGreaterThan(0);
    for (const pod of pods.items) {
      // The image has no shell; its node reads the maps of the container's first process, the ENTRYPOINT's node.
      const mapped = await n().kubectl(['-n', WEBHOOK_NAMESPACE, 'exec', pod.metadata.name, '--', '/nodejs/bin/node', '-e', "const m=require('fs').readFileSync('/proc/1/maps','utf8').split('\\n').filter((l)=>l.endsWith(' /nodejs/lib/libjemalloc.so.2'));const c=require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0');console.log(JSON.stringify({exe:c[0],mapped:m.length>0}))"]);
      expect(JSON.parse(mapped)).toEqual({ exe: '/nodejs/bin/node', mapped: true });
    }
  });

  it('rollout restart: no refused connect, no 1006, no lost acknowledged message, every session closed with 1001; the helper logs in kubectl logs', async () => {
    const run = await drainRun('ws-echo', async (pods) => {
      await n().kubectl(['-n', NS, 'rollout', 'restart', 'deployment/ws-echo']);
      return pods;
    });
    expectCleanDrain(run);
    expect(run.report.closes.length).toBeGreaterThanOrEqual(CLIENTS);
  });

  it('kubectl delete pod: the same, helper lines included; the pod is gone soon after its last connection closed (printed)', async () => {
    const run = await drainRun('ws-echo', async (pods) => {
      await n().kubectl(['-n', NS, 'delete', 'pod', pods[0]!.metadata.name, '--wait=false']);
      return [pods[0]!];
    });
    expectCleanDrain(run);
    const pod = run.oldPods[0]!.metadata.name;
    const lastClose = Math.max(...run.report.closes.filter((c) => c.pod === pod).map((c) => c.t));
    console.log(`[delete pod] ${pod} gone from the API ${((run.goneAt.get(pod)! - lastClose) / 1000).toFixed(1)}s after its last connection closed`);
  });

  it('a pod that ignores the drain is SIGKILLed by the kubelet at its grace period', async () => {
    // Listens on the ws port and ignores every signal the helper or the kubelet sends.
    const ignoring = ['/nodejs/bin/node', '-e', "for (const s of ['SIGTERM','SIGUSR1','SIGINT']) process.on(s, () => console.log(JSON.stringify({ignored: s}))); require('net').createServer(() => {}).listen(8080)"];
    await applyObjects(n(), await exampleWorkload({ name: 'ws-stubborn', namespace: NS, image: n().images.wsEcho, wsDrain: true, replicas: 1, command: ignoring }));
    const [pod] = await waitForReady(n(), NS, 'ws-stubborn', 1);
    const ip = await clusterIp(n(), NS, 'ws-stubborn');
    // A Ready pod is not yet a routed one: connect only once kube-proxy has its rule
    // (a refused connect here used to escape as an unhandled error).
    await waitForRoutes([pod!]);
    // Connections that never close keep the helper waiting for its whole budget.
    const net = await import('node:net');
    const sockets = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<import('node:net').Socket>((resolve, reject) => {
            const s = net.connect(80, ip);
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          }),
      ),
    );
    // The kubelet's SIGKILL resets them; that is the expected end, not a failure.
    for (const s of sockets) s.on('error', () => undefined);
    const watch = watchPod(n(), NS, pod!.metadata.name);
    const deletedAt = Date.now();
    await n().kubectl(['-n', NS, 'delete', 'pod', pod!.metadata.name, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
    const goneAfter = (Date.now() - deletedAt) / 1000;
    await watch.stream.stop();
    for (const s of sockets) s.destroy();
    const terminated = watch
      .versions()
      .map((v) => v.status?.containerStatuses?.[0]?.state?.terminated)
      .filter((t) => t !== undefined);
    expect(terminated.length).toBeGreaterThan(0);
    expect(terminated[terminated.length - 1].exitCode).toBe(137);
    console.log(`[ws-stubborn] grace ${pod!.spec.terminationGracePeriodSeconds}s, pod gone ${goneAfter.toFixed(1)}s after delete (SIGKILL, exit 137)`);
  });

  it('control: the same Deployment without ws-drain shows refused connects or 1006 on a rollout restart', async () => {
    await applyObjects(n(), await exampleWorkload({ name: 'ws-plain', namespace: NS, image: n().images.wsEcho, wsDrain: false }));
    const pods = await waitForReady(n(), NS, 'ws-plain', 2);
    expect(pods[0]!.spec.initContainers ?? []).toEqual([]);
    const run = await drainRun('ws-plain', async (pods) => {
      await n().kubectl(['-n', NS, 'rollout', 'restart', 'deployment/ws-plain']);
      return pods;
    });
    const harm = run.report.refused.length + code1006(run.report) + run.report.lost.length;
    console.log(`[control] refused ${run.report.refused.length}, 1006 ${code1006(run.report)}, lost ${run.report.lost.length}`);
    expect(harm).toBeGreaterThan(0);
  });

  podShapeTests(n);

  // Last before the teardown: it replaces the kustomize install.
  helmTests(n);

  it('teardown leaves no process, mount, interface, iptables chain, cgroup or sysctl behind', async () => {
    // "Before" is what the node recorded once it held the machine lock: another
    // run's node may have been up when this file was loaded.
    const before = n().hostBefore;
    await n().stop();
    stopped = true;
    expect(leftovers(nodeStateDir(), before.netns)).toEqual([]);
    expect(Object.keys(before.sysctls)).toContain('vm/overcommit_memory');
    expect(readSysctls(Object.keys(before.sysctls))).toEqual(before.sysctls);
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(NODE.bridge);
  });
});
