import { describe, expect, it } from 'vitest';
import { buildPlan, requiredGraceSeconds, resolveGrace } from '../../src/core/plan.js';
import { CONFIG } from './pod-builders.js';

describe('requiredGraceSeconds', () => {
  it('worked example: D=20 S=300 C=10 M=30% → ceil(330 × 1.3) = 429', () => {
    expect(requiredGraceSeconds(20, 300, 10, 0.3)).toBe(429);
  });

  it('does not round up binary float noise: 100 × 1.1 is 110, not 111', () => {
    expect(Math.ceil(100 * (1 + 0.1))).toBe(111); // the trap integer arithmetic avoids
    expect(requiredGraceSeconds(20, 70, 10, 0.1)).toBe(110);
  });

  it.each([
    [0, 0, 0, 0, 0],
    [20, 300, 10, 0, 330],
    [20, 60, 10, 0.3, 117],
    [20, 61, 10, 0.3, 119], // 91 × 1.3 = 118.3 → 119
    [1, 1, 1, 0.1, 4], // 3.3 → 4
    [10, 10, 10, 0.07, 33], // 32.1 → 33
    [0.5, 0, 0, 0, 1],
    [20, 3600, 10, 10, 39_930],
  ])('D=%d S=%d C=%d M=%d → %d', (d, s, c, m, grace) => {
    expect(requiredGraceSeconds(d, s, c, m)).toBe(grace);
  });

  it('stays exact for huge values', () => {
    expect(requiredGraceSeconds(0, 10_000_000_000, 0, 0.3)).toBe(13_000_000_000);
  });
});

describe('resolveGrace', () => {
  it('raise: lower → required, with a warning naming old and new', () => {
    expect(resolveGrace(429, 30, 'raise', CONFIG)).toEqual({
      kind: 'ok',
      graceSeconds: 429,
      warning: 'terminationGracePeriodSeconds raised from 30 to 429 for the drain plan',
    });
  });
  it('missing grace reads as 30', () => {
    expect(resolveGrace(429, undefined, 'raise', CONFIG)).toMatchObject({ graceSeconds: 429, warning: expect.stringContaining('from 30 to 429') });
    expect(resolveGrace(20, null, 'reject', CONFIG)).toEqual({ kind: 'ok', graceSeconds: 30 });
  });
  it('higher or equal grace is kept in every mode', () => {
    for (const mode of ['raise', 'reject', 'warn'] as const) {
      expect(resolveGrace(429, 600, mode, CONFIG)).toEqual({ kind: 'ok', graceSeconds: 600 });
      expect(resolveGrace(429, 429, mode, CONFIG)).toEqual({ kind: 'ok', graceSeconds: 429 });
    }
  });
  it('reject: lower → deny with the number needed', () => {
    const r = resolveGrace(429, 60, 'reject', CONFIG);
    expect(r.kind).toBe('deny');
    expect(r.kind === 'deny' && r.message).toContain('terminationGracePeriodSeconds is 60 but the drain plan needs at least 429');
  });
  it('warn: lower → kept with a warning', () => {
    expect(resolveGrace(429, 60, 'warn', CONFIG)).toEqual({
      kind: 'ok',
      graceSeconds: 60,
      warning: 'terminationGracePeriodSeconds 60 is below the 429 the drain plan needs; kept (enforce: warn)',
    });
  });
  it('above --max-grace → deny saying by how much, whatever the mode', () => {
    for (const mode of ['raise', 'reject', 'warn'] as const) {
      const r = resolveGrace(3700, 5000, mode, CONFIG);
      expect(r).toEqual({
        kind: 'deny',
        message: expect.stringContaining('needs terminationGracePeriodSeconds 3700, which exceeds --max-grace=3600 by 100 seconds'),
      });
    }
  });
  it('exactly at the cap is allowed', () => {
    expect(resolveGrace(3600, 30, 'raise', CONFIG)).toMatchObject({ kind: 'ok', graceSeconds: 3600 });
  });
});

describe('buildPlan', () => {
  it('folds a native sleep into D and records it', () => {
    const plan = buildPlan(
      { mode: 'drain', enforce: 'raise', prestopDelaySeconds: 20, sessionP95Seconds: 300, cleanupSeconds: 10, margin: 0.3, existingHook: 'auto' },
      5,
      [{ name: 'web', role: 'app', ports: [8080], why: 'serves session ports' }],
      undefined,
    );
    expect(plan.prestopDelaySeconds).toBe(25);
    expect(plan.foldedSleepSeconds).toBe(5);
    expect(plan.requiredGraceSeconds).toBe(Math.ceil((335 * 13) / 10)); // 435.5 → 436
    expect(plan.graceSeconds).toBe(436);
  });
});
