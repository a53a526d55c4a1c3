// What a clean drain under load looks like on the real node, asserted the same
// way wherever the suite drains pods (kustomize and Helm installs alike).
import { expect } from 'vitest';
import type { DisruptionRun } from './scenario.js';

/**
 * No refused connect, no 1006, no lost acknowledged message, every close 1001;
 * and in `kubectl logs` of every disrupted pod, the helper's start and exit
 * lines and the app's drain-start (the helper signalled it).
 */
export function expectCleanDrain(run: DisruptionRun): void {
  expect(run.report.refused).toEqual([]);
  expect(run.report.closes.filter((c) => c.code === 1006)).toEqual([]);
  expect(run.report.lost).toEqual([]);
  expect(run.report.closes.filter((c) => c.code !== 1001)).toEqual([]);
  expect(run.oldPodLogs.size).toBe(run.oldPods.length);
  for (const [pod, lines] of run.oldPodLogs) {
    // The preStop's lines reach the container's stdout (/proc/1/fd/1), so `kubectl logs` shows them.
    const phases = lines.filter((l) => l['component'] === 'ws-drain-helper').map((l) => l['phase']);
    expect(phases, `helper JSON lines in kubectl logs ${pod}`).toContain('start');
    expect(phases, `helper JSON lines in kubectl logs ${pod}`).toContain('exit');
    // The app got the drain signal from the helper.
    expect(lines.some((l) => l['app'] === 'ws-server' && l['event'] === 'drain-start'), `drain-start in kubectl logs ${pod}`).toBe(true);
  }
}
