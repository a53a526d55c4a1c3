// isPod: PodSchema's answer, whether zod's parser or the compiled check gives it; compiledAfterUse.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AnnotationsOnly } from '../../src/core/decide.js';
import { COMPILE_AFTER_PODS, compiledAfterUse, isPod, PodSchema } from '../../src/core/pod-schema.js';
import { anyPod } from './pod-arbitraries.js';
import type { Json } from './pod-builders.js';

// Places the schema checks, each to be given a value of the wrong kind (or of the right kind, out of range).
const PATHS: Array<Array<string | number>> = [
  ['metadata'],
  ['metadata', 'annotations'],
  ['metadata', 'annotations', 'example.com/n'],
  ['metadata', 'name'],
  ['spec'],
  ['spec', 'containers'],
  ['spec', 'containers', 0],
  ['spec', 'containers', 0, 'name'],
  ['spec', 'containers', 0, 'image'],
  ['spec', 'containers', 0, 'command'],
  ['spec', 'containers', 0, 'args', 0],
  ['spec', 'containers', 0, 'ports', 0, 'containerPort'],
  ['spec', 'containers', 0, 'ports', 0, 'protocol'],
  ['spec', 'containers', 0, 'readinessProbe', 'httpGet', 'port'],
  ['spec', 'containers', 0, 'livenessProbe', 'grpc', 'port'],
  ['spec', 'containers', 0, 'lifecycle', 'preStop', 'sleep', 'seconds'],
  ['spec', 'containers', 0, 'lifecycle', 'preStop', 'exec', 'command', 0],
  ['spec', 'containers', 0, 'lifecycle', 'preStop', 'httpGet', 'httpHeaders', 0, 'value'],
  ['spec', 'containers', 0, 'volumeMounts', 0, 'mountPath'],
  ['spec', 'initContainers', 0, 'restartPolicy'],
  ['spec', 'volumes', 0, 'name'],
  ['spec', 'terminationGracePeriodSeconds'],
  ['spec', 'os', 'name'],
  ['spec', 'nodeSelector', 'kubernetes.io/os'],
  ['spec', 'hostNetwork'],
  ['spec', 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms', 0, 'matchExpressions', 0, 'values'],
  ['spec', 'tolerations', 0, 'effect'],
];
const WRONG = fc.constantFrom<unknown>(null, undefined, 0, -1, 1.5, 70000, '', 'x', '8080', true, [], ['x'], {}, { a: 1 });

function withValue(pod: Json, path: Array<string | number>, value: unknown): Json {
  const copy = structuredClone(pod);
  let at: Record<string | number, unknown> = copy;
  path.slice(0, -1).forEach((key, i) => {
    const next = at[key];
    at = (typeof next === 'object' && next !== null ? next : (at[key] = typeof path[i + 1] === 'number' ? [] : {})) as typeof at;
  });
  at[path[path.length - 1]!] = value;
  return copy;
}

const input = fc.oneof(
  { weight: 2, arbitrary: anyPod },
  { weight: 4, arbitrary: fc.tuple(anyPod, fc.constantFrom(...PATHS), WRONG).map(([pod, path, value]) => withValue(pod, path, value)) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

describe('isPod', () => {
  it('the compiled check answers as zod parser does', () => {
    const compiled = z.compile(PodSchema);
    let valid = 0;
    fc.assert(
      fc.property(input, (x) => {
        const expected = PodSchema.safeParse(x).success;
        if (expected) valid++;
        expect(compiled.validate(x)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: both answers are common.
    expect(valid).toBeGreaterThan(500);
    expect(valid).toBeLessThan(2500);
  });

  it('answers as zod parser does before and after it compiles', () => {
    fc.assert(
      fc.property(input, (x) => {
        expect(isPod(x)).toBe(PodSchema.safeParse(x).success);
      }),
      { numRuns: 2 * COMPILE_AFTER_PODS },
    );
  });
});

describe('compiledAfterUse', () => {
  it('gives the schema itself for the first uses, then one compiled clone', () => {
    const use = compiledAfterUse(AnnotationsOnly);
    for (let i = 1; i < COMPILE_AFTER_PODS; i++) expect(use()).toBe(AnnotationsOnly);
    const compiled = use();
    expect(compiled).not.toBe(AnnotationsOnly);
    expect(use()).toBe(compiled);
  });

  // decide's first look at a pod (AnnotationsOnly) and its pod check, compiled: the same output (a fresh copy, unknown keys dropped) or the same issues.
  it.each([['AnnotationsOnly', AnnotationsOnly], ['PodSchema', PodSchema]] as const)('%s compiled parses as zod parser does', (_, schema) => {
    const compiled = z.compile(schema as z.ZodType);
    let valid = 0;
    fc.assert(
      fc.property(input, (x) => {
        const expected = schema.safeParse(x);
        const got = compiled.safeParse(x);
        if (expected.success) valid++;
        expect(got.success).toBe(expected.success);
        if (expected.success) expect(got.data).toStrictEqual(expected.data);
        else expect(got.error?.issues).toStrictEqual(expected.error.issues);
      }),
      { numRuns: 1500 },
    );
    // Not vacuous: both answers are common.
    expect(valid).toBeGreaterThan(100);
    expect(valid).toBeLessThan(1400);
  });
});
