// The answer memo (src/server/answer-memo.ts) against the webhook without it:
// byte-identical answers and the same log records whatever the sequence of
// reviews, uids, body layouts and namespace changes, cheap hashes shared by
// two bodies included; bounded under many distinct pods; never a stale
// namespace; nothing copied of a body seen the first time.
import fc from 'fast-check';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS } from '../../src/cli/serve-command.js';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { withNamespaceDefaults, type NamespaceView } from '../../src/core/namespace-defaults.js';
import type { WebhookConfig } from '../../src/core/types.js';
import type { NamespaceLookup } from '../../src/server/admission.js';
import { BYTES_PER_ENTRY, cheapHash, createAnswerMemo, DEFAULT_ANSWER_CACHE_ENTRIES, ENTRY_OVERHEAD, MAX_ENTRY_BYTES, type MemoAnswer } from '../../src/server/answer-memo.js';
import { createApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import { answerParsed, parseReviewBody } from '../../src/server/review-routes.js';
import { anyPod } from '../core/pod-arbitraries.js';
import { CONFIG } from '../core/pod-builders.js';
import { admissionReview, capturingLogger, optedInPod } from './review-fixtures.js';

type Json = Record<string, unknown>;

const POD_RESOURCE = { group: '', version: 'v1', resource: 'pods' };
const POD_KIND = { group: '', version: 'v1', kind: 'Pod' };

/**
 * An AdmissionReview as the API server writes it (Go's encoding/json: struct
 * field order, kind before apiVersion, the request's uid first), or in the
 * test fixtures' order, or with something a hostile client could send: an
 * earlier "uid" elsewhere (decoy), a second request.uid after the first (JSON.parse keeps the last).
 */
type Layout = 'api-server' | 'fixture' | { decoy: string } | { duplicate: string };

interface ReviewSpec {
  uid: string;
  namespace: string;
  object: unknown;
  operation?: string;
  name?: string;
  dryRun?: boolean;
  layout?: Layout;
}

function body(r: ReviewSpec): Buffer {
  const layout = r.layout ?? 'api-server';
  if (layout === 'fixture') {
    return Buffer.from(JSON.stringify(admissionReview({ uid: r.uid, namespace: r.namespace, object: r.object, operation: r.operation ?? 'CREATE', dryRun: r.dryRun ?? false })));
  }
  // The request's fields after uid, in AdmissionRequest's order.
  const rest: Json = {
    kind: POD_KIND,
    resource: POD_RESOURCE,
    requestKind: POD_KIND,
    requestResource: POD_RESOURCE,
    ...(r.name === undefined ? {} : { name: r.name }),
    namespace: r.namespace,
    operation: r.operation ?? 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1b2', groups: ['system:serviceaccounts'] },
    object: r.object,
    oldObject: null,
    dryRun: r.dryRun ?? false,
    options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
  };
  const fields = JSON.stringify(rest).slice(1, -1);
  const head = typeof layout === 'object' && 'decoy' in layout ? `{"kind":"AdmissionReview","meta":{"uid":${JSON.stringify(layout.decoy)}},` : '{"kind":"AdmissionReview",';
  const tail = typeof layout === 'object' && 'duplicate' in layout ? `,"uid":${JSON.stringify(layout.duplicate)}` : '';
  return Buffer.from(`${head}"apiVersion":"admission.k8s.io/v1","request":{"uid":${JSON.stringify(r.uid)},${fields}${tail}}}`);
}

/** The webhook without a memo: what mutate-handler.ts does with --answer-cache-size 0. */
function uncached(raw: Buffer, config: WebhookConfig, namespaces: NamespaceLookup): MemoAnswer {
  const parsed = parseReviewBody(raw);
  if (!parsed.ok) return parsed;
  const { result, body } = answerParsed('mutate', parsed.review, config, namespaces);
  return { ok: true, result, body };
}

/** The answer's text, or the 400's. */
const textOf = (a: MemoAnswer): string => (a.ok ? a.body : a.error);

/** What the log line and the metrics read of an answer. */
function recordOf(a: MemoAnswer): unknown {
  if (!a.ok) return a;
  const { uid, namespace, podName, dryRun, outcome, reason, graceRaised } = a.result;
  return { uid, namespace, podName, dryRun, outcome, reason, graceRaised };
}

/** Namespaces as the informer keeps them: a new view per change, `known: false` (a new object per lookup) when absent. */
class Namespaces {
  private views = new Map<string, NamespaceView>();
  lookups = 0;
  constructor(private config: WebhookConfig) {}
  set(name: string, labels: Record<string, string>, annotations: Record<string, string>): void {
    this.views.set(name, withNamespaceDefaults({ name, labels: { ...labels }, annotations: { ...annotations } }, this.config));
  }
  delete(name: string): void {
    this.views.delete(name);
  }
  lookup: NamespaceLookup = (name) => {
    this.lookups += 1;
    return this.views.get(name) ?? { name, known: false };
  };
}

const NAMESPACES = ['apps', 'team', 'kube-system'];
const labelsArb = fc.constantFrom<Record<string, string>>({}, { 'ws-drain.io/inject': 'enabled' }, { 'ws-drain.io/inject': 'disabled' }, { team: 'chat' });
const annotationsArb = fc.constantFrom<Record<string, string>>(
  {},
  { 'ws-drain/session-p95': '10m' },
  { 'ws-drain/mode': 'sleep' },
  { 'ws-drain/grace-margin': 'lots' },
  { 'ws-drain/prestop-delay': '5s', 'ws-drain/cleanup': '3s' },
  { 'ws-drain/enabled': 'true' },
);
// Few uids, so that the same one comes back; and ones the memo must not cut (escapes, non-ASCII, too long, empty).
const uidArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('u1', 'u2', 'u3', '705ab4f5-6393-11e8-b7cc-42010a800002') },
  { weight: 2, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom('with"quote', 'back\\slash', 'é', '', 'x'.repeat(257), 'tab\there', ' ') },
);
const layoutArb: fc.Arbitrary<Layout> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Layout>('api-server') },
  { weight: 2, arbitrary: fc.constant<Layout>('fixture') },
  { weight: 1, arbitrary: uidArb.map((decoy) => ({ decoy })) },
  { weight: 1, arbitrary: uidArb.map((duplicate) => ({ duplicate })) },
);

/** A review but for its uid: what the replicas of one rollout share. */
interface Template {
  pod: unknown;
  namespace: string;
  dryRun: boolean;
  operation: string;
  name: string | undefined;
  layout: Layout;
}

const templateArb: fc.Arbitrary<Template> = fc.record({
  pod: anyPod,
  namespace: fc.oneof({ weight: 3, arbitrary: fc.constant('apps') }, { weight: 1, arbitrary: fc.constantFrom(...NAMESPACES) }),
  dryRun: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  operation: fc.oneof({ weight: 9, arbitrary: fc.constant('CREATE') }, { weight: 1, arbitrary: fc.constant('UPDATE') }),
  name: fc.option(fc.constantFrom('chat-abcde', 'other'), { nil: undefined, freq: 5 }),
  layout: layoutArb,
});

type Step =
  | { kind: 'review'; template: number; uid: string }
  | { kind: 'namespace'; name: string; labels: Record<string, string>; annotations: Record<string, string> }
  | { kind: 'delete-namespace'; name: string }
  | { kind: 'garbage'; template: number; cut: number };

const stepArb = (templates: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 14, arbitrary: fc.record({ kind: fc.constant('review' as const), template: fc.nat({ max: templates - 1 }), uid: uidArb }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('namespace' as const), name: fc.constantFrom(...NAMESPACES), labels: labelsArb, annotations: annotationsArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-namespace' as const), name: fc.constantFrom(...NAMESPACES) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), template: fc.nat({ max: templates - 1 }), cut: fc.nat({ max: 400 }) }) },
  );

const scenarioArb = fc
  .record({ templates: fc.array(templateArb, { minLength: 1, maxLength: 4 }), entries: fc.integer({ min: 1, max: 4 }) })
  .chain(({ templates, entries }) =>
    fc.record({ templates: fc.constant(templates), entries: fc.constant(entries), steps: fc.array(stepArb(templates.length), { minLength: 1, maxLength: 40 }) }),
  );

/**
 * Two pods' reviews that share a cheap hash (answer-memo.ts), both of one
 * length, so only their bytes tell them apart: a birthday search over a
 * label's six digits. `a` and `b` make a family's body for those digits and a uid.
 */
function collidingPair(a: (build: string, uid: string) => Buffer, b: (build: string, uid: string) => Buffer): (first: boolean, uid: string) => Buffer {
  const digits = (n: number) => String(n).padStart(6, '0');
  expect(a(digits(0), 'x').byteLength).toBe(b(digits(0), 'x').byteLength);
  // Bodies from the text around the digits: JSON.stringify per candidate is slow.
  const [aHead, aTail] = a(digits(0), 'x').toString().split(digits(0));
  const [bHead, bTail] = b(digits(0), 'x').toString().split(digits(0));
  const seen = new Map<number, number>();
  for (let i = 0; i < 1 << 17; i++) seen.set(cheapHash(Buffer.from(`${aHead}${digits(i)}${aTail}`))!, i);
  let pair: [string, string] | undefined;
  for (let j = 0; pair === undefined; j++) {
    const i = seen.get(cheapHash(Buffer.from(`${bHead}${digits(j)}${bTail}`))!);
    if (i !== undefined) pair = [digits(i), digits(j)];
  }
  const [i, j] = pair;
  const bodies = new Map<string, Buffer>();
  return (first, uid) => {
    const key = `${first} ${uid}`;
    if (!bodies.has(key)) bodies.set(key, first ? a(i, uid) : b(j, uid));
    return bodies.get(key)!;
  };
}

/** Random sequences of two colliding families' reviews get the webhook's answers without the memo, and some from memory. */
function answersCollidingAsWithout(review: (first: boolean, uid: string) => Buffer, uids: string[]): void {
  const lookup: NamespaceLookup = (name) => ({ name });
  expect(cheapHash(review(true, uids[0]!))).toBe(cheapHash(review(false, uids[1]!)));
  expect(textOf(uncached(review(true, uids[0]!), DEFAULT_CONFIG, lookup))).not.toBe(textOf(uncached(review(false, uids[0]!), DEFAULT_CONFIG, lookup)));
  let hits = 0;
  let answered = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.record({ first: fc.boolean(), uid: fc.constantFrom(...uids) }), { minLength: 1, maxLength: 40 }),
      (entries, steps) => {
        let hit = false;
        const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries, onLookup: (h) => (hit = h) });
        for (const { first, uid } of steps) {
          const raw = review(first, uid);
          const got = memo.answer(raw, lookup);
          const want = uncached(raw, DEFAULT_CONFIG, lookup);
          expect(textOf(got)).toBe(textOf(want));
          expect(recordOf(got)).toEqual(recordOf(want));
          answered += 1;
          if (hit) hits += 1;
        }
        expect(memo.stats().sightings).toBeLessThanOrEqual(entries);
      },
    ),
    { numRuns: 150, seed: 14 },
  );
  // Not vacuous: both families were answered from memory in turn.
  expect(hits).toBeGreaterThan(answered / 10);
}

describe('answer memo', () => {
  it('answers every sequence of reviews byte for byte as the webhook without it: uids, layouts, namespace changes, every outcome', () => {
    const hitOutcomes = new Map<string, number>();
    let hits = 0;
    let answered = 0;
    fc.assert(
      fc.property(scenarioArb, ({ templates, entries, steps }) => {
        const namespaces = new Namespaces(CONFIG);
        let hit = false;
        const memo = createAnswerMemo({ config: CONFIG, entries, onLookup: (h) => (hit = h) });
        for (const step of steps) {
          if (step.kind === 'namespace') namespaces.set(step.name, step.labels, step.annotations);
          else if (step.kind === 'delete-namespace') namespaces.delete(step.name);
          else {
            const t = templates[step.template]!;
            const raw = step.kind === 'garbage' ? body({ ...t, object: t.pod, uid: 'u1' }).subarray(0, step.cut) : body({ ...t, object: t.pod, uid: step.uid });
            namespaces.lookups = 0;
            const want = uncached(raw, CONFIG, namespaces.lookup);
            const wantLookups = namespaces.lookups;
            namespaces.lookups = 0;
            const got = memo.answer(raw, namespaces.lookup);
            expect(textOf(got)).toBe(textOf(want));
            expect(recordOf(got)).toEqual(recordOf(want));
            // The length a hit states (the reply's content-length) is the answer's UTF-8 length.
            if (got.ok && got.bytes !== undefined) expect(got.bytes).toBe(Buffer.byteLength(got.body));
            // ws_drain_namespace_cache_misses_total counts lookups: one per pod CREATE, hit or not.
            expect(namespaces.lookups).toBe(wantLookups);
            answered += 1;
            if (hit && got.ok) {
              hits += 1;
              hitOutcomes.set(got.result.outcome, (hitOutcomes.get(got.result.outcome) ?? 0) + 1);
            }
          }
          expect(memo.stats().entries).toBeLessThanOrEqual(entries);
        }
      }),
      { numRuns: 300, seed: 14 },
    );
    // Not vacuous: the memo answered a good share, in every outcome it keeps.
    expect(hits).toBeGreaterThan(answered / 12);
    for (const outcome of ['mutated', 'skipped', 'denied']) expect(hitOutcomes.get(outcome) ?? 0).toBeGreaterThan(20);
  });

  it('answers a rollout from the memo from its fourth pod on: the same bytes but for the uid', () => {
    let hits = 0;
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 8, onLookup: (h) => (hits += h ? 1 : 0) });
    const lookup: NamespaceLookup = (name) => ({ name });
    const pod = optedInPod();
    for (let i = 0; i < 10; i++) {
      const raw = body({ uid: `uid-${i}`, namespace: 'apps', object: pod });
      const got = memo.answer(raw, lookup);
      expect(textOf(got)).toBe(textOf(uncached(raw, DEFAULT_CONFIG, lookup)));
      expect(got.ok && got.result.outcome).toBe('mutated');
    }
    // The first pod is computed and its cheap hash kept; the second is computed and its digest
    // kept; the third, with another uid, is computed once more and kept: the memo now knows the
    // cut is request.uid (answer-memo.ts); the other seven are answered from it.
    expect(hits).toBe(7);
    // The same bytes again and again (a client's retries): from the memo without a second uid.
    const fresh = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 8, onLookup: (h) => (hits += h ? 1 : 0) });
    const raw = body({ uid: 'same', namespace: 'apps', object: pod });
    for (let i = 0; i < 4; i++) fresh.answer(raw, lookup);
    expect(hits).toBe(8);
  });

  it('never answers from a stale namespace: each change of its labels or annotations is answered anew, then from the memo', () => {
    const namespaces = new Namespaces(DEFAULT_CONFIG);
    let hit = false;
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 8, onLookup: (h) => (hit = h) });
    const pod = optedInPod({});
    pod['spec'] = { ...(pod['spec'] as Json), terminationGracePeriodSeconds: 30 };
    const states: Array<[Record<string, string>, Record<string, string>, string]> = [
      [{}, {}, 'skipped'],
      [{ 'ws-drain.io/inject': 'enabled' }, {}, 'mutated'],
      [{ 'ws-drain.io/inject': 'enabled' }, { 'ws-drain/session-p95': '10m' }, 'mutated'],
      [{ 'ws-drain.io/inject': 'enabled' }, { 'ws-drain/session-p95': '10m', 'ws-drain/grace-margin': 'lots' }, 'mutated'],
      [{ 'ws-drain.io/inject': 'disabled' }, {}, 'skipped'],
      [{ 'ws-drain.io/inject': 'enabled' }, {}, 'mutated'],
    ];
    const bodies = new Set<string>();
    let n = 0;
    for (const [labels, annotations, outcome] of states) {
      namespaces.set('apps', labels, annotations);
      for (let i = 0; i < 3; i++, n++) {
        const raw = body({ uid: `u${n}`, namespace: 'apps', object: pod });
        const got = memo.answer(raw, namespaces.lookup);
        const want = uncached(raw, DEFAULT_CONFIG, namespaces.lookup);
        expect(textOf(got)).toBe(textOf(want));
        expect(got.ok && got.result.outcome).toBe(outcome);
        // The first review after a change is computed, the rest come from the memo; at the very
        // start, the second and third are computed too (the first is only seen, the second's digest
        // kept, and the third's uid verifies the cut, answer-memo.ts).
        expect(hit).toBe(i > 0 && n > 2);
        if (got.ok) bodies.add(got.body.replace(`"uid":"u${n}"`, ''));
      }
    }
    // Each state its own answer but the disabled label's, which is the first one's (allowed,
    // nothing else), and the last, which is the second's.
    expect(bodies.size).toBe(4);
    // A namespace the cache loses: the "not yet read" answer, not the last one.
    namespaces.delete('apps');
    const raw = body({ uid: 'gone', namespace: 'apps', object: pod });
    const got = memo.answer(raw, namespaces.lookup);
    expect(textOf(got)).toBe(textOf(uncached(raw, DEFAULT_CONFIG, namespaces.lookup)));
    expect(textOf(got)).toContain('not yet read');
    expect(hit).toBe(false);
  });

  it('stays within its entries and bytes under many distinct pods, least recently used out first', () => {
    let hit = false;
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 50, onLookup: (h) => (hit = h) });
    const lookup: NamespaceLookup = (name) => ({ name });
    const variant = (i: number) => {
      const pod = optedInPod();
      (pod['metadata'] as Json)['generateName'] = `chat-${i}-`;
      return pod;
    };
    const within = () => {
      expect(memo.stats().entries).toBeLessThanOrEqual(50);
      expect(memo.stats().bytes).toBeLessThanOrEqual(50 * BYTES_PER_ENTRY);
      expect(memo.stats().sightings).toBeLessThanOrEqual(50);
      expect(memo.stats().sightingBytes).toBeLessThanOrEqual(50 * BYTES_PER_ENTRY);
    };
    // Pods seen once each: only their cheap hashes, the oldest out first.
    for (let i = 0; i < 300; i++) {
      memo.answer(body({ uid: 'a', namespace: 'apps', object: variant(-i) }), lookup);
      within();
    }
    expect(memo.stats()).toEqual({ entries: 0, bytes: 0, sightings: 50, sightingBytes: 0 });
    for (let i = 0; i < 600; i++) {
      // Each thrice with three uids, so every entry is a verified one.
      for (const uid of ['a', 'b', 'c']) memo.answer(body({ uid, namespace: 'apps', object: variant(i) }), lookup);
      within();
    }
    expect(memo.stats().entries).toBe(50);
    // The 50 most recent are held, the one before them is not.
    memo.answer(body({ uid: 'x', namespace: 'apps', object: variant(550) }), lookup);
    expect(hit).toBe(true);
    memo.answer(body({ uid: 'x', namespace: 'apps', object: variant(549) }), lookup);
    expect(hit).toBe(false);
    // Seen thrice again, 549 is kept; 550 was used last, so 551, the least recently used, went out.
    memo.answer(body({ uid: 'y', namespace: 'apps', object: variant(549) }), lookup);
    memo.answer(body({ uid: 'z', namespace: 'apps', object: variant(549) }), lookup);
    expect(hit).toBe(false);
    memo.answer(body({ uid: 'w', namespace: 'apps', object: variant(549) }), lookup);
    expect(hit).toBe(true);
    memo.answer(body({ uid: 'e', namespace: 'apps', object: variant(550) }), lookup);
    expect(hit).toBe(true);
    memo.answer(body({ uid: 'e', namespace: 'apps', object: variant(551) }), lookup);
    expect(hit).toBe(false);
    expect(memo.stats().entries).toBe(50);
  });

  it('copies nothing of a body seen the first time: its bytes from the second sighting, its answer from the third', () => {
    let hits = 0;
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 256, onLookup: (h) => (hits += h ? 1 : 0) });
    const lookup: NamespaceLookup = (name) => ({ name });
    const variant = (i: number) => {
      const pod = optedInPod();
      (pod['metadata'] as Json)['generateName'] = `chat-${i}-`;
      return pod;
    };
    // Pods that never repeat: computed, only their cheap hashes kept.
    for (let i = 0; i < 1000; i++) memo.answer(body({ uid: `u${i}`, namespace: 'apps', object: variant(i) }), lookup);
    expect(memo.stats()).toEqual({ entries: 0, bytes: 0, sightings: 256, sightingBytes: 0 });
    // A rollout: the second replica's bytes are kept, the third's answer (verified by another uid).
    const replica = (i: number) => body({ uid: `r${i}`, namespace: 'apps', object: variant(-1) });
    memo.answer(replica(0), lookup);
    expect(memo.stats().sightingBytes).toBe(0);
    memo.answer(replica(1), lookup);
    // The body less its uid's 2 characters.
    expect(memo.stats().sightingBytes).toBe(replica(1).byteLength - 2 + ENTRY_OVERHEAD);
    memo.answer(replica(2), lookup);
    expect(memo.stats().sightingBytes).toBe(0);
    expect(memo.stats().entries).toBe(1);
    expect(hits).toBe(0);
    for (let i = 3; i < 6; i++) memo.answer(replica(i), lookup);
    expect(hits).toBe(3);
  });

  it('holds at most its bytes of bodies seen twice, whatever their size', () => {
    // 8 entries: 128 KiB of bytes, but one largest entry (body and answer) must fit.
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 8, onLookup: () => {} });
    const lookup: NamespaceLookup = (name) => ({ name });
    const large = (i: number) => {
      const pod = optedInPod();
      (pod['metadata'] as Json)['generateName'] = `chat-${i}-`;
      (pod['metadata'] as { labels: Record<string, string> }).labels['filler'] = 'x'.repeat(60);
      const containers = (pod['spec'] as { containers: Json[] }).containers;
      containers[0]!['env'] = Array.from({ length: 700 }, (_, k) => ({ name: `VAR_${k}`, value: 'x'.repeat(20) }));
      return pod;
    };
    const limit = 2 * MAX_ENTRY_BYTES + ENTRY_OVERHEAD;
    for (let i = 0; i < 20; i++) {
      for (const uid of ['a', 'b']) {
        const raw = body({ uid, namespace: 'apps', object: large(i) });
        expect(raw.byteLength).toBeGreaterThan(MAX_ENTRY_BYTES / 3);
        expect(raw.byteLength).toBeLessThanOrEqual(MAX_ENTRY_BYTES);
        memo.answer(raw, lookup);
      }
      expect(memo.stats().sightingBytes).toBeLessThanOrEqual(limit);
    }
    // Held: as many of the latest as fit in the bytes, fewer than the count allows.
    expect(memo.stats().sightingBytes).toBeGreaterThan(limit / 2);
    expect(memo.stats().sightings).toBeLessThan(8);
  });

  it('never answers or verifies a body by another one with its cheap hash: bodies apart after the uid', () => {
    // The first family's bodies carry a second request.uid after the first (JSON.parse keeps the
    // last): their cut is never request.uid, so no uid but 'dup' may be answered from memory for
    // them, whatever the other family verified.
    const family = (p95: string, layout: Layout, pad: string) => (build: string, uid: string) => {
      const pod = optedInPod({ 'ws-drain/session-p95': p95 });
      Object.assign((pod['metadata'] as { labels: Record<string, string> }).labels, { build, pad });
      return body({ uid, namespace: 'apps', object: pod, layout });
    };
    const a = family('10m', { duplicate: 'dup' }, '');
    const unpadded = family('20m', 'api-server', '');
    const b = family('20m', 'api-server', 'x'.repeat(a('', 'x').byteLength - unpadded('', 'x').byteLength));
    answersCollidingAsWithout(collidingPair(a, b), ['dup', 'u1', 'u2', 'u3']);
  });

  it('never answers a body by another one with its cheap hash: bodies apart before the uid', () => {
    // request.uid after the pod, and nothing before it named uid: the bytes before the cut hold the pod.
    const family = (p95: string) => (build: string, uid: string) => {
      const pod = optedInPod({ 'ws-drain/session-p95': p95 });
      const meta = pod['metadata'] as { labels: Record<string, string>; ownerReferences?: unknown };
      delete meta.ownerReferences;
      meta.labels['build'] = build;
      const request = { kind: POD_KIND, resource: POD_RESOURCE, namespace: 'apps', operation: 'CREATE', userInfo: { username: 'admin' }, object: pod, dryRun: false, uid };
      return Buffer.from(JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request }));
    };
    answersCollidingAsWithout(collidingPair(family('10m'), family('20m')), ['u1', 'u2', 'u3']);
  });

  it('finds a body by its bytes without the uid, wherever its buffer lies: the same cheap hash at any alignment, another for any one byte changed', () => {
    const raw = body({ uid: 'u1', namespace: 'apps', object: optedInPod() });
    const want = cheapHash(raw)!;
    expect(cheapHash(body({ uid: 'another-uid', namespace: 'apps', object: optedInPod() }))).toBe(want);
    // Request chunks are views at any offset of a larger buffer: the hash reads words of a copy.
    for (let offset = 0; offset < 8; offset++) {
      const at = Buffer.alloc(raw.byteLength + 16);
      raw.copy(at, offset);
      expect(cheapHash(at.subarray(offset, offset + raw.byteLength))).toBe(want);
    }
    // One byte changed (in a label's value, at each position within a word, and in the last 0-3 bytes) changes it.
    const label = raw.indexOf('"app":"') + 7;
    expect(label).toBeGreaterThan(7);
    for (const at of [label, label + 1, label + 2, label + 3, raw.byteLength - 3, raw.byteLength - 2]) {
      const changed = Buffer.from(raw);
      changed[at] = changed[at] === 0x7a ? 0x79 : 0x7a;
      expect(cheapHash(changed)).not.toBe(want);
    }
    const large = Buffer.concat([raw, Buffer.alloc(MAX_ENTRY_BYTES, 0x20)]);
    expect(cheapHash(large)).toBeUndefined();
  });

  it('does not look up a body over its size: a large pod is answered right, every time by the core', () => {
    let hits = 0;
    const memo = createAnswerMemo({ config: DEFAULT_CONFIG, entries: 4, onLookup: (h) => (hits += h ? 1 : 0) });
    const lookup: NamespaceLookup = (name) => ({ name });
    const pod = optedInPod();
    const containers = (pod['spec'] as { containers: Json[] }).containers;
    containers[0]!['env'] = Array.from({ length: 1500 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(20) }));
    for (let i = 0; i < 4; i++) {
      const raw = body({ uid: `u${i}`, namespace: 'apps', object: pod });
      expect(raw.byteLength).toBeGreaterThan(MAX_ENTRY_BYTES);
      const got = memo.answer(raw, lookup);
      expect(textOf(got)).toBe(textOf(uncached(raw, DEFAULT_CONFIG, lookup)));
    }
    expect(hits).toBe(0);
    expect(memo.stats()).toEqual({ entries: 0, bytes: 0, sightings: 0, sightingBytes: 0 });
  });
});

describe('answer cache in the webhook', () => {
  it('POST /mutate answers identical pods as without it, and counts hits and misses', async () => {
    const setup = (withMemo: boolean) => {
      const { logger, lines } = capturingLogger();
      let answers: ReturnType<typeof createAnswerMemo> | undefined;
      const metrics = createMetrics({ defaultMetrics: false, answerCache: () => answers?.stats() ?? { entries: 0, bytes: 0 } });
      answers = withMemo ? createAnswerMemo({ config: DEFAULT_CONFIG, entries: 16, onLookup: (hit) => (hit ? metrics.answerCacheHits : metrics.answerCacheMisses).inc() }) : undefined;
      return { app: createApp({ config: DEFAULT_CONFIG, logger, metrics, answers }), metrics, lines };
    };
    const cached = setup(true);
    const plain = setup(false);
    const reviews = [
      ...Array.from({ length: 5 }, (_, i) => admissionReview({ uid: `r${i}` })),
      admissionReview({ uid: 'deny', object: optedInPod({ 'ws-drain/session-p95': 'five minutes' }) }),
      admissionReview({ uid: 'deny-2', object: optedInPod({ 'ws-drain/session-p95': 'five minutes' }) }),
      admissionReview({ uid: 'deny-3', object: optedInPod({ 'ws-drain/session-p95': 'five minutes' }) }),
      admissionReview({ uid: 'update', operation: 'UPDATE' }),
    ];
    for (const review of reviews) {
      const a = await request(cached.app).post('/mutate').send(review).expect(200);
      const b = await request(plain.app).post('/mutate').send(review).expect(200);
      expect(a.text).toBe(b.text);
    }
    // /validate never uses it.
    for (const app of [cached.app, plain.app]) await request(app).post('/validate').send(admissionReview({ uid: 'v' })).expect(200);
    const strip = (lines: Json[]) => lines.map(({ time: _t, durationMs: _d, ...rest }) => rest);
    expect(strip(cached.lines)).toEqual(strip(plain.lines));
    const text = await cached.metrics.registry.metrics();
    // r0-r2 computed (r2 verifies the uid), r3-r4 remembered; deny's three computed; the UPDATE is a miss.
    expect(text).toContain('ws_drain_answer_cache_hits_total 2');
    expect(text).toContain('ws_drain_answer_cache_misses_total 7');
    expect(text).toContain('ws_drain_answer_cache_entries 2');
    expect(text).toMatch(/ws_drain_answer_cache_bytes \d{4,}/);
    const plainText = await plain.metrics.registry.metrics();
    expect(plainText).toContain('ws_drain_answer_cache_hits_total 0');
    expect(plainText).toContain('ws_drain_answer_cache_entries 0');
  });

  it('serve --help states the default size serve uses', () => {
    // serve-command.ts does not import the memo (serve loads the webhook on demand), so it states the number itself.
    expect(SERVE_FLAGS.find((f) => f.name === 'answer-cache-size')?.defaultText).toBe(String(DEFAULT_ANSWER_CACHE_ENTRIES));
  });
});
