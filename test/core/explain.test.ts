import { describe, expect, it } from 'vitest';
import { explainPlan } from '../../src/core/explain.js';
import type { Plan } from '../../src/core/types.js';

const base: Plan = {
  mode: 'drain',
  enforce: 'raise',
  prestopDelaySeconds: 20,
  sessionP95Seconds: 300,
  cleanupSeconds: 10,
  margin: 0.3,
  requiredGraceSeconds: 429,
  graceSeconds: 429,
  containers: [{ name: 'web', role: 'app', ports: [8080, 8443], why: 'serves session ports' }],
};

describe('explainPlan', () => {
  it('shows the formula with the numbers, the timeline and the margin', () => {
    const text = explainPlan(base);
    expect(text).toContain('grace = ceil((D + S + C) × (1 + M))');
    expect(text).toContain('= ceil((20 + 300 + 10) × (1 + 0.3))');
    expect(text).toContain('= ceil(330 × 1.3) = 429s');
    expect(text).toContain('M = 30%  margin: 99s of slack');
    const timeline = text.split('\n').filter((l) => /^\s+\d+s  /.test(l)).map((l) => Number(l.trim().split('s')[0]));
    expect(timeline).toEqual([0, 20, 320, 330, 429]);
    expect(text).toContain('web: app (serves session ports), gets the drain trigger, watches 8080, 8443');
  });

  it('names drain triggers, folded sleep, a kept higher grace and sleep mode', () => {
    const drain = explainPlan({ ...base, signal: 'SIGUSR1', http: { method: 'POST', port: 8080, path: '/drain' }, foldedSleepSeconds: 5, graceSeconds: 600 });
    expect(drain).toContain('drain starts: SIGUSR1 to the listening process, POST http://127.0.0.1:8080/drain');
    expect(drain).toContain("includes 5s of the pod's own preStop sleep");
    expect(drain).toContain("terminationGracePeriodSeconds: 600 (the pod's own, higher value is kept)");
    const sleep = explainPlan({ ...base, mode: 'sleep' });
    expect(sleep).toContain('preStop sleep ends; SIGTERM');
    const warn = explainPlan({ ...base, enforce: 'warn', graceSeconds: 60 });
    expect(warn).toContain('below the required 429s');
  });
});
