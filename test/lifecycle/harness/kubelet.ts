// kubelet's container termination, on real processes (pkg/kubelet/kuberuntime,
// killContainer): the grace period starts at deletion; the preStop hook runs
// first and may use all of it; then SIGTERM; at the end of the grace period
// SIGKILL. A preStop that overruns the grace period is abandoned and the
// container still gets a minimum of 2 s between SIGTERM and SIGKILL.
import type { PodSandbox } from './pod-sandbox.js';

export const MINIMUM_GRACE_AFTER_PRESTOP_MS = 2000;

export interface PreStopExec {
  command: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface TerminationTimeline {
  deletedAt: number;
  graceSeconds: number;
  preStop?: { startedAt: number; endedAt: number; exitCode: number | null; overran: boolean };
  sigtermAt: number;
  sigkillAt?: number;
  exitedAt: number;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
}

export async function terminatePod(pod: PodSandbox, graceSeconds: number, preStop: PreStopExec | undefined, deletedAt = Date.now()): Promise<TerminationTimeline> {
  const deadline = deletedAt + graceSeconds * 1000;
  const exited = pod.appExited();
  let preStopResult: TerminationTimeline['preStop'];

  if (preStop) {
    const startedAt = Date.now();
    const hook = pod.exec(preStop.command, { env: preStop.env, cwd: preStop.cwd });
    const grace = sleepUntil(deadline);
    const outcome = await Promise.race([
      hook.done.then((d) => ({ kind: 'done' as const, ...d })),
      grace.done.then(() => ({ kind: 'deadline' as const })),
      exited.then(() => ({ kind: 'app-exited' as const })),
    ]);
    grace.cancel();
    if (outcome.kind === 'done') {
      preStopResult = { startedAt, endedAt: outcome.t, exitCode: outcome.code, overran: false };
    } else {
      hook.child.kill('SIGKILL');
      preStopResult = { startedAt, endedAt: Date.now(), exitCode: null, overran: outcome.kind === 'deadline' };
    }
  }

  const sigtermAt = Date.now();
  pod.signalApp('SIGTERM');
  const killAt = Math.max(deadline, preStopResult?.overran ? sigtermAt + MINIMUM_GRACE_AFTER_PRESTOP_MS : 0);
  let sigkillAt: number | undefined;
  const killTimer = setTimeout(() => {
    sigkillAt = Date.now();
    pod.signalApp('SIGKILL');
  }, Math.max(0, killAt - Date.now()));
  const exit = await exited;
  clearTimeout(killTimer);
  return {
    deletedAt,
    graceSeconds,
    preStop: preStopResult,
    sigtermAt,
    sigkillAt,
    exitedAt: exit.t,
    exitCode: exit.code,
    exitSignal: exit.signal,
  };
}

function sleepUntil(t: number): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, t - Date.now()));
  });
  return { done, cancel: () => clearTimeout(timer) };
}
