// A pod termination under WebSocket load, on real processes: the example
// server as PID 1 of its own network + PID namespace, 50 real clients behind a
// balancer that keeps routing to the dying pod for a propagation lag, the real
// drain helper run with the argv the webhook injects, and kubelet's sequence
// (preStop → SIGTERM → SIGKILL at grace). Counts and close codes are asserted;
// timings are printed (the drain benchmark holds the timing targets).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPER_BINARY } from '../../src/core/types.js';
import { removeExampleServerBundle } from './harness/app-bundle.js';
import { installHelper, removeInstalledHelper } from './harness/helper-binary.js';
import { describeResult, runScenario, type ScenarioOptions } from './harness/scenario.js';

const CLIENTS = 50;
const LAG_MS = 1000;

// D=2s > the 1 s balancer lag, S=15s, C=2s; the app staggers its closes over 3 s.
const DRAIN_ANNOTATIONS = {
  'ws-drain/session-p95': '15s',
  'ws-drain/prestop-delay': '2s',
  'ws-drain/cleanup': '2s',
};

let helper: string;

beforeAll(() => {
  helper = installHelper();
});

afterAll(() => {
  if (helper) removeInstalledHelper(helper);
  removeExampleServerBundle();
});

function base(kind: ScenarioOptions['kind']): ScenarioOptions {
  return { kind, clients: CLIENTS, lagMs: LAG_MS, sendIntervalMs: 250, settleMs: 1000, afterMs: 500, reconnectTimeoutMs: 20_000, staggerMs: 3000 };
}

function appDrainSources(logs: Array<Record<string, unknown>>): unknown[] {
  return logs.filter((l) => l['app'] === 'ws-server' && l['event'] === 'drain-start').map((l) => l['source']);
}

describe('pod termination with ws-drain injected', () => {
  it.each([
    { name: 'drain-signal SIGUSR1', annotations: { ...DRAIN_ANNOTATIONS, 'ws-drain/drain-signal': 'SIGUSR1' }, flag: '--signal=SIGUSR1', source: 'SIGUSR1' },
    { name: 'drain-http POST :8080/drain', annotations: { ...DRAIN_ANNOTATIONS, 'ws-drain/drain-http': 'POST :8080/drain' }, flag: '--drain-url=http://127.0.0.1:8080/drain', source: 'http' },
  ])('$name: nothing refused, nothing cut, nothing lost, every session closed with 1001', async ({ annotations, flag, source }) => {
    const r = await runScenario({ ...base('ws-drain'), label: `ws-drain (${source})`, annotations, installedHelper: helper });
    console.log(describeResult(r));

    // The argv is the webhook's, untouched except for where the helper lives.
    expect(r.injected?.injected[0]).toBe(HELPER_BINARY);
    expect(r.injected?.injected).toContain(flag);
    expect(r.preStop?.slice(1)).toEqual(r.injected?.injected.slice(1));
    expect(r.timeline.preStop?.exitCode).toBe(0);
    expect(r.timeline.sigkillAt).toBeUndefined();
    // The helper's trigger reached the app through the namespaces, once.
    expect(appDrainSources(r.oldPodLogs)).toEqual([source]);

    expect(r.oldPodSessionsAtDelete).toBe(CLIENTS);
    expect(r.refusedConnects).toBe(0);
    expect(r.abnormalCloses).toBe(0);
    expect(r.lostMessages).toBe(0);
    expect(r.fleet.acked).toBe(r.fleet.sent);
    expect(r.oldPodCloseCodes).toEqual({ 1001: CLIENTS });
    expect(r.connectedToNewAtEnd).toBe(CLIENTS);
  });
});

describe('pod termination when the session budget runs out first', () => {
  it('stops waiting at S, and SIGTERM still closes the remaining sessions with 1001', async () => {
    // S=3s but the app staggers over 10 s: the helper gives up with sessions left.
    const annotations = { 'ws-drain/session-p95': '3s', 'ws-drain/prestop-delay': '2s', 'ws-drain/cleanup': '2s', 'ws-drain/drain-signal': 'SIGUSR1' };
    const r = await runScenario({ ...base('ws-drain'), label: 'ws-drain (budget exhausted)', annotations, installedHelper: helper, staggerMs: 10_000 });
    console.log(describeResult(r));

    expect(r.timeline.preStop?.exitCode).toBe(0);
    expect(r.timeline.sigkillAt).toBeUndefined();
    const atSigterm = r.oldPodLogs.find((l) => l['app'] === 'ws-server' && l['event'] === 'sigterm');
    expect(atSigterm?.['sessions']).toBeGreaterThan(0);

    expect(r.refusedConnects).toBe(0);
    expect(r.abnormalCloses).toBe(0);
    expect(r.lostMessages).toBe(0);
    expect(r.oldPodCloseCodes).toEqual({ 1001: CLIENTS });
    expect(r.connectedToNewAtEnd).toBe(CLIENTS);
  });
});

describe('pod termination with default Kubernetes behaviour', () => {
  it('shows the failures ws-drain removes: refused connects during the lag and 1006 closes', async () => {
    const r = await runScenario({ ...base('default-kubernetes') });
    console.log(describeResult(r));

    expect(r.timeline.preStop).toBeUndefined();
    expect(r.oldPodSessionsAtDelete).toBe(CLIENTS);
    // The app died with its sockets open: no close frame reached any client.
    expect(r.abnormalCloses).toBeGreaterThan(0);
    expect(r.oldPodCloseCodes['1001'] ?? 0).toBe(0);
    // Reconnects during the lag went to a pod that no longer listens.
    expect(r.refusedConnects).toBeGreaterThan(0);
    expect(r.fleet.refused.every((e) => e.t >= r.timeline.deletedAt)).toBe(true);
    // Clients still recover once the balancer stops routing to the old pod.
    expect(r.connectedToNewAtEnd).toBe(CLIENTS);
  });
});
