import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { decide } from '../../src/core/decide.js';
import { fixedJSON, helperMount, helperVolume, installInitContainer } from '../../src/core/inject.js';
import { COMPILE_AFTER_PODS } from '../../src/core/pod-schema.js';
import { admissionReviewSchema, admit, answerReview, MAX_RESPONSE_BYTES, parseAdmissionReview, patchJSON, serializeReview, toBase64, type AdmissionReviewResponse } from '../../src/server/admission.js';
import { anyPod } from '../core/pod-arbitraries.js';
import { CONFIG } from '../core/pod-builders.js';
import { admissionReview, optedInPod } from './review-fixtures.js';

function admitted(review: unknown): AdmissionReviewResponse {
  const parsed = parseAdmissionReview(JSON.parse(JSON.stringify(review)));
  if (!parsed.ok) throw new Error(parsed.error);
  return admit(parsed.review, DEFAULT_CONFIG).review;
}

describe('serializeReview', () => {
  it('is byte for byte JSON.stringify for every kind of answer', () => {
    const answers = {
      mutated: admitted(admissionReview()),
      mutatedWithWarnings: admitted(admissionReview({ object: { ...optedInPod(), spec: { ...(optedInPod()['spec'] as object), hostNetwork: true } } })),
      skipped: admitted(admissionReview({ object: optedInPod({ 'ws-drain/prestop-delay': '5s' }) })),
      denied: admitted(admissionReview({ object: optedInPod({ 'ws-drain/session-p95': 'forever' }) })),
      passthrough: admitted(admissionReview({ operation: 'UPDATE' })),
    };
    expect(answers.mutated.response.patch).toBeDefined();
    expect(answers.mutatedWithWarnings.response.warnings?.length).toBeGreaterThan(0);
    expect(answers.skipped.response.warnings?.length).toBeGreaterThan(0);
    expect(answers.denied.response.status?.code).toBe(422);
    for (const review of Object.values(answers)) expect(serializeReview(review)).toBe(JSON.stringify(review));
  });

  it('escapes whatever ends up in the answer (uid, warnings, messages)', () => {
    const text = fc.string({ unit: 'binary' });
    fc.assert(
      fc.property(
        text,
        fc.boolean(),
        fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }),
        fc.option(fc.record({ code: fc.integer(), message: text, reason: text }), { nil: undefined }),
        (uid, allowed, patch, warnings, status) => {
          const review: AdmissionReviewResponse = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed } };
          if (patch !== undefined) Object.assign(review.response, { patchType: 'JSONPatch', patch: toBase64(patch) });
          if (warnings !== undefined) review.response.warnings = warnings;
          if (status !== undefined) review.response.status = status;
          expect(serializeReview(review)).toBe(JSON.stringify(review));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('patchJSON: the injected objects fixed by the config written from their JSON made once', () => {
  it('is byte for byte JSON.stringify of the patch, for generated pods under two helper images in turn, taking both fixed forms', () => {
    const configs = [CONFIG, { ...CONFIG, helperImage: 'registry.example.com/"quoted"\\helper:2' }];
    const forms = { item: 0, list: 0 };
    fc.assert(
      fc.property(anyPod, fc.nat(1), (pod, which) => {
        const d = decide(pod, 'default', configs[which]!);
        if (d.kind !== 'mutate') return;
        for (const op of d.patch) {
          if (fixedJSON(op.value) !== undefined) forms[Array.isArray(op.value) ? 'list' : 'item']++;
        }
        expect(patchJSON(d.patch)).toBe(JSON.stringify(d.patch));
      }),
      { numRuns: 400 },
    );
    // Not vacuous: pods without the lists ([item]) and with them (item appended).
    expect(forms.list).toBeGreaterThan(50);
    expect(forms.item).toBeGreaterThan(50);
  });

  it('knows the fixed objects by identity, not by their contents, and they are frozen', () => {
    expect(fixedJSON(helperMount())).toBe(JSON.stringify(helperMount()));
    expect(fixedJSON([helperVolume()])).toBe(JSON.stringify([helperVolume()]));
    expect(fixedJSON(installInitContainer('a:1'))).toBe(JSON.stringify(installInitContainer('a:1')));
    // Another image's init container, then the first again: each with its own text.
    expect(fixedJSON(installInitContainer('b:2'))).toContain('"image":"b:2"');
    expect(fixedJSON(installInitContainer('a:1'))).toContain('"image":"a:1"');
    expect(fixedJSON({ ...helperMount() })).toBeUndefined();
    expect(fixedJSON([helperMount(), helperMount()])).toBeUndefined();
    expect(fixedJSON('ws-drain')).toBeUndefined();
    const container = installInitContainer('a:1') as { securityContext: { capabilities: { drop: string[] } } };
    expect(() => container.securityContext.capabilities.drop.push('NET_RAW')).toThrow(TypeError);
    expect(() => Object.assign(helperMount(), { readOnly: false })).toThrow(TypeError);
  });
});

describe('answerReview: the safety net behind the core', () => {
  it('turns an answer over the byte cap into a denial of that pod, uid kept, with the sizes in the message', () => {
    const parsed = parseAdmissionReview(admissionReview({ uid: 'big' }));
    if (!parsed.ok) throw new Error(parsed.error);
    const normal = answerReview(parsed.review, DEFAULT_CONFIG);
    expect(normal.result.outcome).toBe('mutated');
    expect(normal.body.length).toBeLessThan(MAX_RESPONSE_BYTES);

    const capped = answerReview(parsed.review, DEFAULT_CONFIG, 500);
    expect(capped.result.outcome).toBe('denied');
    const response = JSON.parse(capped.body).response;
    expect(response).toMatchObject({ uid: 'big', allowed: false, status: { code: 422, reason: 'Invalid' } });
    expect(response.status.message).toMatch(/would be \d+ bytes, over the webhook's limit of 500 bytes/);
    expect(capped.body.length).toBeLessThan(500);
  });

  it('turns a throw inside admission or serialisation (V8 string limit, a bug) into a 500 denial of that pod, not a crash', () => {
    const parsed = parseAdmissionReview(admissionReview({ uid: 'boom' }));
    if (!parsed.ok) throw new Error(parsed.error);
    const thrown = answerReview(parsed.review, DEFAULT_CONFIG, MAX_RESPONSE_BYTES, () => {
      throw new RangeError('Invalid string length'); // what ERR_STRING_TOO_LONG surfaced as in issue 12, item 1
    });
    expect(thrown.result.outcome).toBe('error');
    const response = JSON.parse(thrown.body).response;
    expect(response).toMatchObject({ uid: 'boom', allowed: false, status: { code: 500, reason: 'InternalError' } });
    expect(response.status.message).toBe('ws-drain webhook internal error: RangeError: Invalid string length');
  });
});

describe('parseAdmissionReview: the envelope schema, by zod parser and compiled after COMPILE_AFTER_PODS reviews', () => {
  // A value of the wrong kind (or none) at one of the envelope's places.
  const PLACES: string[][] = [
    ['apiVersion'], ['kind'], ['request'], ['request', 'uid'], ['request', 'kind', 'group'], ['request', 'resource', 'resource'],
    ['request', 'subResource'], ['request', 'name'], ['request', 'namespace'], ['request', 'operation'], ['request', 'dryRun'],
  ];
  const broken = fc
    .tuple(fc.constantFrom(...PLACES), fc.constantFrom<unknown>(undefined, null, 0, '', 'x', true, [], {}, 'a'.repeat(257)))
    .map(([path, value]) => {
      // A copy: the fixture shares its kind and resource objects between reviews.
      const review = structuredClone(admissionReview());
      let at: Record<string, unknown> = review;
      for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
      at[path[path.length - 1]!] = value;
      return review;
    });
  const reviews = fc.oneof(
    { weight: 2, arbitrary: fc.tuple(anyPod, fc.constantFrom('CREATE', 'UPDATE'), fc.boolean()).map(([object, operation, dryRun]) => admissionReview({ object: object as unknown, operation, dryRun })) },
    { weight: 3, arbitrary: broken },
    { weight: 1, arbitrary: fc.jsonValue() },
  );

  it('answers as zod parser does before and after it compiles: the same review (unknown fields dropped) or the first issue', () => {
    let ok = 0;
    fc.assert(
      fc.property(reviews, (body) => {
        const expected = admissionReviewSchema.safeParse(body);
        const got = parseAdmissionReview(body);
        expect(got.ok).toBe(expected.success);
        if (got.ok) {
          ok++;
          expect(got.review).toStrictEqual(expected.data);
          expect('userInfo' in got.review.request).toBe(false);
        } else {
          expect(got.error).toContain(`: ${expected.error!.issues[0]!.message}`);
        }
      }),
      { numRuns: 2 * COMPILE_AFTER_PODS },
    );
    expect(ok).toBeGreaterThan(300);
    expect(ok).toBeLessThan(1700);
  });
});
