// Property tests over generated pods and annotation values.
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { INSTALL_COMMAND } from '../../src/core/helper-argv.js';
import { HELPER_BINARY, type Decision } from '../../src/core/types.js';
import { annotationsFor, anyPod, podArb } from './pod-arbitraries.js';
import { CONFIG, type Json } from './pod-builders.js';

const RUNS = { numRuns: 400 };

function helperCommands(pod: unknown): string[][] {
  const spec = (pod as { spec: { containers: Json[] } }).spec;
  return spec.containers
    .map((c) => ((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)
    .filter((e): e is { command: string[] } => e?.command?.[0] === HELPER_BINARY)
    .map((e) => e.command);
}

// Strict forms of every helper flag whose value can come from an annotation.
const FLAG_FORMS: Record<string, RegExp> = {
  container: /^[a-z0-9-]+$/,
  delay: /^\d+s$/,
  budget: /^\d+s$/,
  ports: /^(\d+(,\d+)*)?$/,
  signal: /^SIG[A-Z0-9]+$/,
  'drain-url': /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/,
  'drain-method': /^[A-Z]+$/,
  'hook-url': /^https?:\/\//,
  'hook-header': /^X-[AB]: /,
  'hook-timeout': /^\d+s$/,
};

describe('properties', () => {
  it('the generated pods exercise every outcome (so the properties below are not vacuous)', () => {
    const kinds = fc.sample(anyPod, { numRuns: 1000, seed: 42 }).map((p) => {
      const d = decide(p, 'default', CONFIG);
      return d.kind === 'mutate' ? `mutate-${d.plan.mode}` : d.kind;
    });
    const count = (k: string) => kinds.filter((x) => x === k).length;
    expect(count('mutate-drain')).toBeGreaterThan(100);
    expect(count('mutate-sleep')).toBeGreaterThan(30);
    expect(count('deny')).toBeGreaterThan(100);
    expect(count('skip')).toBeGreaterThan(20);
  });

  it('applyPatch(original, patch) deep-equals the mutated pod, and the input is never changed', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const before = structuredClone(pod);
        const d = decide(pod, 'default', CONFIG);
        expect(pod).toEqual(before);
        if (d.kind !== 'mutate') return;
        const applied = jsonpatch.applyPatch(structuredClone(pod), d.patch as jsonpatch.Operation[], true, false).newDocument;
        expect(applied).toEqual(d.pod);
      }),
      RUNS,
    );
  });

  it('the hand-built patch also applies where the API server sends null instead of omitting a field', () => {
    // null members need "replace" (they exist), missing ones "add": both must apply under strict validation.
    const withNulls = fc.tuple(anyPod, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })).map(([pod, flags]) => {
      const p = structuredClone(pod) as { metadata: Json; spec: Json & { containers: Json[] } };
      const nullIfAbsent = (o: Json, key: string, flag: boolean | undefined) => {
        if (flag && o[key] === undefined) o[key] = null;
      };
      nullIfAbsent(p.spec, 'volumes', flags[0]);
      nullIfAbsent(p.spec, 'initContainers', flags[1]);
      nullIfAbsent(p.spec, 'terminationGracePeriodSeconds', flags[2]);
      p.spec.containers.forEach((c, i) => {
        nullIfAbsent(c, 'volumeMounts', flags[3 + i]);
        if (flags[6 + i]) c['lifecycle'] = (c['lifecycle'] as Json | undefined)?.['preStop'] ? c['lifecycle'] : null;
        else if (flags[9 + i] && c['lifecycle'] && !(c['lifecycle'] as Json)['preStop']) c['lifecycle'] = { preStop: null };
      });
      return p as Json;
    });
    let mutated = 0;
    fc.assert(
      fc.property(withNulls, (pod) => {
        const json = JSON.parse(JSON.stringify(pod)) as Json;
        const d = decide(pod, 'default', CONFIG);
        expect(pod).toEqual(json);
        if (d.kind !== 'mutate') return;
        mutated += 1;
        const applied = jsonpatch.applyPatch(json, d.patch as jsonpatch.Operation[], true, false).newDocument;
        expect(applied).toEqual(d.pod);
      }),
      RUNS,
    );
    expect(mutated).toBeGreaterThan(40);
  });

  it('inject twice == inject once', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const once = decide(pod, 'default', CONFIG);
        if (once.kind !== 'mutate') return;
        expect(decide(once.pod, 'default', CONFIG)).toEqual({ kind: 'skip', reason: 'already-injected', warnings: [] });
      }),
      RUNS,
    );
  });

  it('a pod without opt-in is never changed', () => {
    const notOptedIn = (names: string[]) => annotationsFor(names).map((a) => {
      const { 'ws-drain/session-p95': _s, 'ws-drain/enabled': enabled, ...rest } = a;
      return enabled === 'false' ? { ...rest, 'ws-drain/enabled': 'false' } : rest;
    });
    fc.assert(
      fc.property(podArb(notOptedIn), (pod) => {
        const d = decide(pod, 'default', CONFIG);
        expect(d.kind).toBe('skip');
      }),
      RUNS,
    );
  });

  it('in raise mode the resulting grace is at least the required grace', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate' || d.plan.enforce !== 'raise') return;
        const grace = (d.pod as { spec: { terminationGracePeriodSeconds?: number } }).spec.terminationGracePeriodSeconds ?? 30;
        expect(grace).toBeGreaterThanOrEqual(d.plan.requiredGraceSeconds);
        expect(d.plan.graceSeconds).toBe(grace);
      }),
      RUNS,
    );
  });

  it('no annotation value ever reaches a shell: every helper element is a known --flag=value of a strict form', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate') return;
        const spec = (d.pod as { spec: { initContainers?: Json[] } }).spec;
        const install = spec.initContainers?.find((c) => c['name'] === 'ws-drain-install');
        if (install) {
          expect(install['command']).toEqual(INSTALL_COMMAND);
          expect(install['args']).toBeUndefined();
        }
        for (const argv of helperCommands(d.pod)) {
          const dashdash = argv.indexOf('--');
          const own = dashdash === -1 ? argv : argv.slice(0, dashdash);
          expect(own.slice(0, 2)).toEqual([HELPER_BINARY, 'prestop']);
          for (const element of own.slice(2)) {
            const m = /^--([a-z-]+)=(.*)$/s.exec(element);
            expect(m, element).not.toBeNull();
            const form = FLAG_FORMS[m![1]!];
            expect(form, `unknown flag in ${element}`).toBeDefined();
            expect(m![2]).toMatch(form!);
          }
        }
      }),
      RUNS,
    );
  });

  it('the original exec hook is kept verbatim after --', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate') return;
        const original = (pod as { spec: { containers: Json[] } }).spec.containers;
        const mutated = (d.pod as { spec: { containers: Json[] } }).spec.containers;
        mutated.forEach((c, i) => {
          const cmd = (((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)?.command;
          const before = (((original[i]?.['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)?.command;
          if (cmd?.[0] !== HELPER_BINARY || !before) return;
          expect(cmd.slice(cmd.indexOf('--') + 1)).toEqual(before);
        });
      }),
      RUNS,
    );
  });

  it('decide never throws on arbitrary JSON and always returns a decision', () => {
    const isDecision = (d: Decision) => ['skip', 'deny', 'mutate'].includes(d.kind);
    fc.assert(
      fc.property(fc.anything(), fc.string(), (input, ns) => {
        expect(isDecision(decide(input, ns, CONFIG))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // Arbitrary values in the places decide reads, under an opt-in.
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (spec, containers, lifecycle) => {
        const shaped = { metadata: { annotations: { 'ws-drain/session-p95': '1m' } }, spec: { ...(typeof spec === 'object' && spec ? spec : {}), containers: [{ name: 'web', ports: [{ containerPort: 80 }], lifecycle }, containers] } };
        expect(isDecision(decide(shaped, 'default', CONFIG))).toBe(true);
        expect(isDecision(decide({ metadata: { annotations: { 'ws-drain/enabled': 'true' } }, spec }, 'default', CONFIG))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
