// Structure-aware fuzz of the webhook (issue 12), fixed seeds and bounded
// counts: valid AdmissionReviews with one or more fields replaced by hostile
// values, and raw bodies over HTTP. Whatever arrives: no 5xx, the uid echoed,
// an answer under the cap, a patch that applies, and every injected helper
// command line accepted by the real helper's parser (`prestop --check`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { HELPER_BINARY } from '../../src/core/types.js';
import { answerReview, MAX_RESPONSE_BYTES, parseAdmissionReview } from '../../src/server/admission.js';
import { createApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import { admissionReview, capturingLogger, optedInPod } from './review-fixtures.js';

type Json = Record<string, unknown>;

let dir: string;
let helper: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-drain-fuzz-'));
  helper = join(dir, 'ws-drain-helper');
  const r = spawnSync('go', ['build', '-o', helper, '.'], { cwd: resolve(import.meta.dirname, '../../helper'), encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0' } });
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Values that have broken parsers before: wrong types, huge and odd strings, deep nesting.
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, '', ' ', '%', '\u0000', '\r\n', '-1', '1e309', 'NaN', '__proto__', 'constructor', '0x10', '65536', '１'),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.nat({ max: 200 }).map((n) => Array.from({ length: n }, (_, i) => String(i + 1)).join(',')),
);

// Paths into a review that reach every layer: envelope, metadata, annotations, containers, hooks, ports.
const PATHS = [
  ['request', 'uid'],
  ['request', 'operation'],
  ['request', 'resource'],
  ['request', 'object'],
  ['request', 'object', 'metadata'],
  ['request', 'object', 'metadata', 'annotations'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/session-p95'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/ports'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/containers'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/drain-http'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/drain-signal'],
  ['request', 'object', 'metadata', 'annotations', 'ws-drain/grace-margin'],
  ['request', 'object', 'spec'],
  ['request', 'object', 'spec', 'containers'],
  ['request', 'object', 'spec', 'containers', 0],
  ['request', 'object', 'spec', 'containers', 0, 'name'],
  ['request', 'object', 'spec', 'containers', 0, 'ports'],
  ['request', 'object', 'spec', 'containers', 0, 'ports', 0, 'containerPort'],
  ['request', 'object', 'spec', 'containers', 0, 'lifecycle'],
  ['request', 'object', 'spec', 'containers', 2, 'lifecycle', 'preStop'],
  ['request', 'object', 'spec', 'containers', 2, 'lifecycle', 'preStop', 'exec', 'command'],
  ['request', 'object', 'spec', 'initContainers'],
  ['request', 'object', 'spec', 'volumes'],
  ['request', 'object', 'spec', 'terminationGracePeriodSeconds'],
] as const;

function setPath(root: Json, path: readonly (string | number)[], value: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (typeof node === 'object' && node !== null) (node as Record<string | number, unknown>)[path[path.length - 1] as string | number] = value;
}

const fuzzedReview = fc
  .record({
    edits: fc.array(fc.tuple(fc.constantFrom(...PATHS), hostileValue), { minLength: 0, maxLength: 3 }),
    httpHook: fc.option(fc.record({ path: fc.string({ maxLength: 8 }), host: fc.string({ maxLength: 8 }) }), { nil: undefined }),
  })
  .map(({ edits, httpHook }) => {
    const review = admissionReview({ uid: 'fuzz', object: optedInPod() }) as Json;
    if (httpHook) setPath(review, ['request', 'object', 'spec', 'containers', 0, 'lifecycle'], { preStop: { httpGet: { port: 8080, ...httpHook } } });
    for (const [path, value] of edits) setPath(review, path, value);
    return review;
  });

function helperArgvs(pod: unknown): string[][] {
  const containers = (pod as { spec?: { containers?: Json[] } }).spec?.containers ?? [];
  return containers
    .map((c) => ((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)
    .filter((e): e is { command: string[] } => e?.command?.[0] === HELPER_BINARY)
    .map((e) => e.command);
}

describe('fuzzed AdmissionReviews (fixed seed)', () => {
  it('2,000 structure-aware reviews: no throw, uid echoed, answer under the cap, patch applies, helper accepts every argv', () => {
    const argvs = new Map<string, string[]>();
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fuzzedReview, (review) => {
        const body = JSON.parse(JSON.stringify(review)) as Json;
        const parsed = parseAdmissionReview(body);
        if (!parsed.ok) {
          outcomes.set('400', (outcomes.get('400') ?? 0) + 1);
          expect(parsed.error).toMatch(/^not an AdmissionReview/);
          return;
        }
        const { result, body: answer } = answerReview(parsed.review, DEFAULT_CONFIG);
        outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
        expect(result.outcome).not.toBe('error');
        expect(Buffer.byteLength(answer)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
        const response = (JSON.parse(answer) as { response: { uid: string; patch?: string } }).response;
        expect(response.uid).toBe(parsed.review.request.uid);
        if (response.patch === undefined) return;
        const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as jsonpatch.Operation[];
        const object = structuredClone(parsed.review.request.object);
        const patched = jsonpatch.applyPatch(object, ops, true, false).newDocument;
        for (const argv of helperArgvs(patched)) {
          // A container name that is not a DNS label (here: NUL bytes) fails the API server's own
          // validation after admission: that pod never exists, so no helper ever gets its argv.
          if (!/^--container=[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(argv[2] ?? '')) continue;
          argvs.set(JSON.stringify(argv), argv);
        }
      }),
      { numRuns: 2000, seed: 20261201 },
    );
    // Every outcome was reached, so the properties are not vacuous.
    for (const k of ['400', 'mutated', 'denied', 'passthrough']) expect(outcomes.get(k) ?? 0, `${k}: ${JSON.stringify([...outcomes])}`).toBeGreaterThan(20);
    expect(argvs.size).toBeGreaterThan(20);
    for (const argv of argvs.values()) {
      const r = spawnSync(helper, ['prestop', '--check', ...argv.slice(2)], { encoding: 'utf8' });
      expect(r.status, `${JSON.stringify(argv)}: ${r.stderr}`).toBe(0);
    }
  }, 180_000); // hang guard for a loaded machine, not a timing

  it('400 raw bodies over HTTP: only 200 or 4xx, always JSON, never a crash', async () => {
    const app = createApp({ config: DEFAULT_CONFIG, logger: capturingLogger().logger, metrics: createMetrics() });
    const valid = JSON.stringify(admissionReview({ uid: 'raw' }));
    const raw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
      fc.tuple(fc.nat({ max: valid.length - 1 }), fc.string({ maxLength: 3 })).map(([i, s]) => valid.slice(0, i) + s + valid.slice(i + 1)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constantFrom('', 'null', '[]', '{}', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}', '\uFEFF' + valid),
    );
    const samples = fc.sample(raw, { numRuns: 400, seed: 7 });
    const statuses = new Map<number, number>();
    for (const body of samples) {
      const res = await request(app).post('/mutate').set('content-type', 'application/json').send(body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([200, 400], `${res.status} for ${JSON.stringify(body.slice(0, 80))}`).toContain(res.status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(() => JSON.parse(res.text) as unknown).not.toThrow();
    }
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  }, 120_000);
});
