// Unknown ws-drain/ keys: denied for every pod the webhook sees, opted in or
// not, with "did you mean" when a known key is close.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANNOTATION, KNOWN_KEYS } from '../../src/core/annotations.js';
import { decide } from '../../src/core/decide.js';
import { editDistance, suggestKeys, unknownKeyErrors } from '../../src/core/unknown-keys.js';
import { INJECTED_ANNOTATION, PLAN_ANNOTATION } from '../../src/core/types.js';
import { CONFIG, webPod } from './pod-builders.js';

const denial = (annotations: Record<string, string>) => decide(webPod(annotations), 'default', CONFIG);

describe('unknown ws-drain/ keys', () => {
  it.each([
    ['ws-drain/session_p95', 'ws-drain/session-p95'],
    ['ws-drain/sesion-p95', 'ws-drain/session-p95'],
    ['ws-drain/Session-P95', 'ws-drain/session-p95'],
    ['ws-drain/session.p95', 'ws-drain/session-p95'],
    ['ws-drain/sessoin-p95', 'ws-drain/session-p95'],
    ['ws-drain/enable', 'ws-drain/enabled'],
    ['ws-drain/drain_signal', 'ws-drain/drain-signal'],
    ['ws-drain/prestop-dealy', 'ws-drain/prestop-delay'],
    ['ws-drain/port', 'ws-drain/ports'],
  ])('a typo of an opt-in or tuning key alone is denied: %s → %s', (key, suggestion) => {
    const d = denial({ [key]: '5m' });
    expect(d).toEqual({ kind: 'deny', code: 422, message: `unknown annotation "${key}": did you mean ${suggestion}?` });
  });

  it('a key nothing is close to is denied with the list of known keys', () => {
    const d = denial({ 'ws-drain/colour': 'blue', 'ws-drain/session-p95': '5m' });
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' && d.message).toBe(
      'unknown annotation "ws-drain/colour"; known keys under ws-drain/: ' +
        Object.values(ANNOTATION)
          .map((k) => k.slice('ws-drain/'.length))
          .join(', '),
    );
  });

  it('denies even when the pod opts out: the key is bad input whatever the opt-in', () => {
    expect(denial({ 'ws-drain/enabled': 'false', 'ws-drain/sesion-p95': '5m' })).toMatchObject({ kind: 'deny', code: 422 });
  });

  it('names every unknown key, sorted, and is not fooled by other prefixes', () => {
    const errors = unknownKeyErrors({
      'ws-drain/zzz': '1',
      'ws-drain/aaa-bbb-ccc-ddd': '1',
      'ws-drain.io/session-p95': '5m',
      'example.com/ws-drain': 'x',
      'ws-drain/session-p95': '5m',
    });
    expect(errors.map((e) => /"([^"]+)"/.exec(e)?.[1])).toEqual(['ws-drain/aaa-bbb-ccc-ddd', 'ws-drain/zzz']);
  });

  it('names the first 10 unknown keys and counts the rest (a pod may carry thousands)', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`ws-drain/session-p95-${String(i).padStart(4, '0')}`, 'x']));
    const errors = unknownKeyErrors(many);
    expect(errors).toHaveLength(11);
    expect(errors[0]).toContain('"ws-drain/session-p95-0000"');
    expect(errors[10]).toBe('4990 more unknown ws-drain/ annotations');
    const d = denial(many);
    expect(d.kind === 'deny' && d.message.length).toBeLessThanOrEqual(2048);
  });

  it('the keys ws-drain writes are known: a pod from `kubectl get -o yaml` is not denied for them', () => {
    const d = decide(webPod({ 'ws-drain/session-p95': '5m', [INJECTED_ANNOTATION]: 'v1', [PLAN_ANNOTATION]: '{}' }), 'default', CONFIG);
    expect(d.kind).not.toBe('deny');
  });

  it('excluded namespaces are never judged, unknown keys included', () => {
    expect(decide(webPod({ 'ws-drain/sesion-p95': '5m' }), 'kube-system', CONFIG)).toMatchObject({ kind: 'skip' });
  });

  it('suggests every key tied at the nearest distance', () => {
    // "plats" is two edits from both "ports" and "plan".
    expect(suggestKeys('ws-drain/plats').sort()).toEqual(['ws-drain/plan', 'ws-drain/ports']);
    expect(denial({ 'ws-drain/plats': '1' })).toMatchObject({ message: expect.stringContaining('did you mean ws-drain/') as unknown });
  });

  it('does not suggest for distant or very long names', () => {
    expect(suggestKeys('ws-drain/timeout')).toEqual([]);
    expect(suggestKeys(`ws-drain/${'session-p95'.repeat(10)}`)).toEqual([]);
  });
});

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['session', 'sesion', 1],
    ['ab', 'ba', 1],
    ['kitten', 'sitting', 3],
  ])('%s ↔ %s = %i', (a, b, n) => {
    expect(editDistance(a, b)).toBe(n);
    expect(editDistance(b, a)).toBe(n);
  });
});

describe('properties', () => {
  const known = [...KNOWN_KEYS];
  const name = (k: string) => k.slice('ws-drain/'.length);

  it('every known key with "-" written as "_" (any case) is denied and suggests exactly that key', () => {
    fc.assert(
      fc.property(fc.constantFrom(...known.filter((k) => k.includes('-', 'ws-drain/'.length))), fc.boolean(), (key, upper) => {
        let typo = `ws-drain/${name(key).replaceAll('-', '_')}`;
        if (upper) typo = typo.toUpperCase().replace('WS-DRAIN/', 'ws-drain/');
        const d = denial({ [typo]: '5m' });
        expect(d).toEqual({ kind: 'deny', code: 422, message: `unknown annotation "${typo}": did you mean ${key}?` });
      }),
      { numRuns: 200 },
    );
  });

  it('one dropped, added, changed or swapped character of a known key is denied with that key among the suggestions', () => {
    const edit = fc
      .record({ key: fc.constantFrom(...known.filter((k) => name(k).length >= 4)), at: fc.nat(), op: fc.constantFrom('drop', 'add', 'change', 'swap'), ch: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789') })
      .map(({ key, at, op, ch }) => {
        const n = name(key);
        const i = at % n.length;
        const typo =
          op === 'drop'
            ? n.slice(0, i) + n.slice(i + 1)
            : op === 'add'
              ? n.slice(0, i) + ch + n.slice(i)
              : op === 'change'
                ? n.slice(0, i) + ch + n.slice(i + 1)
                : i + 1 < n.length
                  ? n.slice(0, i) + n[i + 1] + n[i] + n.slice(i + 2)
                  : n;
        return { key, typo: `ws-drain/${typo}` };
      })
      .filter(({ typo }) => !KNOWN_KEYS.has(typo));
    fc.assert(
      fc.property(edit, ({ key, typo }) => {
        const d = denial({ [typo]: '5m' });
        expect(d.kind).toBe('deny');
        expect(suggestKeys(typo)).toContain(key);
        expect(d.kind === 'deny' && d.message).toContain('did you mean');
      }),
      { numRuns: 400 },
    );
  });

  it('any key under ws-drain/ that is not on the list is denied (never skipped, never mutated), and names the key', () => {
    const key = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `ws-drain/${s}`).filter((k) => !KNOWN_KEYS.has(k));
    fc.assert(
      fc.property(key, fc.boolean(), (k, optedIn) => {
        const d = denial({ [k]: 'x', ...(optedIn ? { 'ws-drain/session-p95': '5m' } : {}) });
        expect(d.kind).toBe('deny');
        expect(d.kind === 'deny' && d.message).toContain(JSON.stringify(k.length > 80 ? `${k.slice(0, 77)}...` : k));
      }),
      { numRuns: 400 },
    );
  });

  it('only known keys never produce an unknown-key error', () => {
    fc.assert(
      fc.property(fc.subarray(known), (keys) => {
        expect(unknownKeyErrors(Object.fromEntries(keys.map((k) => [k, 'x'])))).toEqual([]);
      }),
    );
  });
});
