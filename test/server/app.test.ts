import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyPatch, type Operation } from 'fast-json-patch';
import fc from 'fast-check';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, decide } from '../../src/core/index.js';
import { createApp, MAX_BODY_BYTES, type Lifecycle } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import { admissionReview, capturingLogger, optedInPod } from './review-fixtures.js';

function setup(lifecycle: Lifecycle = { shuttingDown: false }) {
  const { logger, lines } = capturingLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({ config: DEFAULT_CONFIG, logger, metrics, lifecycle });
  return { app, lines, metrics, lifecycle };
}

async function counter(metrics: ReturnType<typeof createMetrics>, name: string, outcome?: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => outcome === undefined || x.labels['outcome'] === outcome);
  return v?.value ?? 0;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies in assertions

function decodePatch(body: Json): Operation[] {
  return JSON.parse(Buffer.from(body.response.patch as string, 'base64').toString('utf8')) as Operation[];
}

describe('POST /mutate', () => {
  it('mutates an opted-in pod: echoes the uid and returns a JSONPatch that yields the injected pod', async () => {
    const { app } = setup();
    const review = admissionReview({ uid: 'uid-123' });
    const res = await request(app).post('/mutate').send(review).expect(200).expect('content-type', /application\/json/);
    const body = res.body as Json;
    expect(body.apiVersion).toBe('admission.k8s.io/v1');
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response.uid).toBe('uid-123');
    expect(body.response.allowed).toBe(true);
    expect(body.response.patchType).toBe('JSONPatch');

    const ops = decodePatch(body);
    expect(ops.length).toBeGreaterThan(0);
    for (const op of ops) expect(['add', 'replace', 'remove', 'copy', 'move', 'test']).toContain(op.op);
    const patched = applyPatch(structuredClone(optedInPod()), ops, true, false).newDocument as Json;

    expect(patched).toEqual((decide(optedInPod(), 'apps', DEFAULT_CONFIG) as { pod: unknown }).pod);
    expect(patched.spec.initContainers.map((c: Json) => c.name)).toContain('ws-drain-install');
    expect(patched.spec.volumes.map((v: Json) => v.name)).toContain('ws-drain');
    // S=120 D=20 C=10 M=30%: ceil(150 * 1.3) = 195, raised from 30.
    expect(patched.spec.terminationGracePeriodSeconds).toBe(195);
    const chat = patched.spec.containers.find((c: Json) => c.name === 'chat');
    expect(chat.lifecycle.preStop.exec.command[0]).toBe('/ws-drain/ws-drain-helper');
    expect(chat.lifecycle.preStop.exec.command).toContain('--ports=8080');
    expect(patched.metadata.annotations['ws-drain/injected']).toBeTruthy();
    expect(Array.isArray(body.response.warnings)).toBe(true);
  });

  it('accepts the timeout query the API server appends to the webhook path', async () => {
    const { app } = setup();
    const res = await request(app).post('/mutate?timeout=10s').send(admissionReview({ uid: 'q' })).expect(200);
    expect((res.body as Json).response).toMatchObject({ uid: 'q', allowed: true, patchType: 'JSONPatch' });
  });

  it('passes through non-pod resources and pod operations other than CREATE without calling the core', async () => {
    const { app, metrics } = setup();
    const cases = [
      admissionReview({ uid: 'a', operation: 'UPDATE' }),
      admissionReview({ uid: 'b', operation: 'DELETE' }),
      admissionReview({ uid: 'c', resource: { group: 'apps', version: 'v1', resource: 'deployments' }, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }),
      admissionReview({ uid: 'd', subResource: 'ephemeralcontainers' }),
      // Garbage object on a non-pod resource is not ours to judge.
      admissionReview({ uid: 'e', resource: { group: '', version: 'v1', resource: 'configmaps' }, object: 'not an object' }),
    ];
    for (const review of cases) {
      const res = await request(app).post('/mutate').send(review).expect(200);
      const body = res.body as Json;
      expect(body.response).toEqual({ uid: (review.request as Json).uid, allowed: true });
    }
    expect(await counter(metrics, 'ws_drain_admission_requests_total', 'passthrough')).toBe(cases.length);
  });

  it('skips a pod that did not opt in: allowed, no patch', async () => {
    const { app, metrics } = setup();
    const pod = optedInPod({});
    const res = await request(app).post('/mutate').send(admissionReview({ object: pod })).expect(200);
    expect((res.body as Json).response.allowed).toBe(true);
    expect((res.body as Json).response.patch).toBeUndefined();
    expect(await counter(metrics, 'ws_drain_admission_requests_total', 'skipped')).toBe(1);
  });

  it('denies a bad annotation with a message naming the annotation and value', async () => {
    const { app, metrics, lines } = setup();
    const pod = optedInPod({ 'ws-drain/session-p95': 'five minutes' });
    const res = await request(app).post('/mutate').send(admissionReview({ uid: 'deny-1', object: pod })).expect(200);
    const response = (res.body as Json).response;
    expect(response.uid).toBe('deny-1');
    expect(response.allowed).toBe(false);
    expect(response.patch).toBeUndefined();
    expect([400, 422]).toContain(response.status.code);
    expect(response.status.reason).toMatch(/Invalid|BadRequest/);
    expect(response.status.message).toContain('ws-drain/session-p95');
    expect(response.status.message).toContain('five minutes');
    expect(await counter(metrics, 'ws_drain_admission_requests_total', 'denied')).toBe(1);
    const line = lines.find((l) => l['uid'] === 'deny-1');
    expect(line).toMatchObject({ outcome: 'denied', namespace: 'apps', pod: 'chat-7d9f8b6c4-' });
  });

  it('answers dryRun requests identically, logs the dry run, and does not count an injection', async () => {
    const { app, metrics, lines } = setup();
    const real = await request(app).post('/mutate').send(admissionReview({ uid: 'same' })).expect(200);
    const dry = await request(app).post('/mutate').send(admissionReview({ uid: 'same', dryRun: true })).expect(200);
    expect(dry.body).toEqual(real.body);
    expect(await counter(metrics, 'ws_drain_admission_requests_total', 'mutated')).toBe(2);
    expect(await counter(metrics, 'ws_drain_injections_total')).toBe(1);
    expect(await counter(metrics, 'ws_drain_grace_raised_total')).toBe(1);
    const admissionLines = lines.filter((l) => l['msg'] === 'admission');
    expect(admissionLines.map((l) => l['dryRun'])).toEqual([undefined, true]);
  });

  it('logs one line per admission without the pod body', async () => {
    const { app, lines } = setup();
    await request(app).post('/mutate').send(admissionReview({ uid: 'log-1' })).expect(200);
    const admissionLines = lines.filter((l) => l['msg'] === 'admission');
    expect(admissionLines).toHaveLength(1);
    expect(admissionLines[0]).toMatchObject({ uid: 'log-1', namespace: 'apps', pod: 'chat-7d9f8b6c4-', outcome: 'mutated' });
    expect(typeof admissionLines[0]!['durationMs']).toBe('number');
    expect(JSON.stringify(admissionLines[0])).not.toContain('registry.example.com');
  });
});

describe('bad requests', () => {
  it('rejects malformed JSON with 400 and a JSON error', async () => {
    const { app, metrics } = setup();
    const res = await request(app).post('/mutate').set('content-type', 'application/json').send('{"apiVersion": "admission.k8s.io/v1", "kind": ').expect(400);
    expect((res.body as Json).error).toMatch(/not valid JSON/);
    expect(await counter(metrics, 'ws_drain_admission_requests_total', 'error')).toBe(1);
  });

  it('rejects JSON that is not an AdmissionReview v1 request with 400 naming the field', async () => {
    const { app } = setup();
    const wrongVersion = { ...admissionReview(), apiVersion: 'admission.k8s.io/v1beta1' };
    expect(((await request(app).post('/mutate').send(wrongVersion).expect(400)).body as Json).error).toMatch(/apiVersion/);
    const noUid = admissionReview();
    delete (noUid.request as Json).uid;
    expect(((await request(app).post('/mutate').send(noUid).expect(400)).body as Json).error).toMatch(/request\.uid/);
    expect(((await request(app).post('/mutate').send([1, 2]).expect(400)).body as Json).error).toMatch(/AdmissionReview/);
    await request(app).post('/mutate').set('content-type', 'application/json').send('"just a string"').expect(400);
  });

  it('rejects a wrong content-type with 415', async () => {
    const { app } = setup();
    const res = await request(app).post('/mutate').set('content-type', 'text/plain').send(JSON.stringify(admissionReview())).expect(415);
    expect((res.body as Json).error).toMatch(/application\/json/);
    await request(app).post('/mutate').send('a=b').expect(415);
  });

  it('rejects a body over the limit with 413', async () => {
    const { app } = setup();
    const pod = optedInPod();
    (pod['metadata'] as Json)['labels'] = { big: 'x'.repeat(MAX_BODY_BYTES) };
    const res = await request(app).post('/mutate').send(admissionReview({ object: pod })).expect(413);
    expect((res.body as Json).error).toMatch(/larger than/);
  });

  it('rejects an over-limit chunked body (no content-length) with 413', async () => {
    const { app } = setup();
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent <= MAX_BODY_BYTES) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(status).toBe(413);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('rejects a compressed body with 415 and non-POST methods with 405', async () => {
    const { app } = setup();
    const res = await request(app).post('/mutate').set('content-encoding', 'gzip').send(admissionReview()).expect(415);
    expect((res.body as Json).error).toMatch(/content-encoding/);
    await request(app).get('/mutate').expect(405).expect('allow', 'POST');
  });

  it('survives deeply nested JSON inside the pod and the envelope', async () => {
    const { app } = setup();
    const depth = 100_000;
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    // In a field ws-drain does not read: left to the API server's validation, the pod is injected as usual.
    const unread = JSON.stringify(admissionReview()).replace('"restartPolicy":"Always"', `"restartPolicy":${nested}`);
    const res = await request(app).post('/mutate').set('content-type', 'application/json').send(unread);
    expect(res.status).toBe(200);
    expect((res.body as Json).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    // In a field it reads: a denial naming the field.
    const read = JSON.stringify(admissionReview()).replace('"ports":[{"name":"ws"', `"ports":[${nested},{"name":"ws"`);
    const denied = await request(app).post('/mutate').set('content-type', 'application/json').send(read);
    expect(denied.status).toBe(200);
    expect((denied.body as Json).response.allowed).toBe(false);
    expect((denied.body as Json).response.status.message).toMatch(/spec\.containers\.0\.ports\.0/);
    const inEnvelope = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${nested}}`;
    await request(app).post('/mutate').set('content-type', 'application/json').send(inEnvelope).expect(400);
  });

  it('never answers 500 for arbitrary bodies (fuzz)', async () => {
    const { app } = setup();
    const review = JSON.stringify(admissionReview());
    const body = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.json({ maxDepth: 4 }),
      // Truncations and byte flips of a real review hit the parser's edge cases.
      fc.nat({ max: review.length }).map((n) => review.slice(0, n)),
      fc.tuple(fc.nat({ max: review.length - 1 }), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => review.slice(0, i) + s + review.slice(i + 1)),
      fc.anything().map((v) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: v }) ?? 'null'),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const res = await request(app).post('/mutate').set('content-type', 'application/json').send(text);
        expect(res.status).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/application\/json/);
      }),
      { numRuns: 150 },
    );
  });

  it('answers unknown paths with 404 JSON', async () => {
    const { app } = setup();
    const res = await request(app).get('/nope').expect(404);
    expect((res.body as Json).error).toMatch(/\/mutate/);
  });
});

describe('health', () => {
  it('healthz and readyz are 200 while serving; readyz is 503 once shutdown begins, healthz stays 200', async () => {
    const { app, lifecycle } = setup();
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    lifecycle.shuttingDown = true;
    await request(app).get('/readyz').expect(503);
    await request(app).get('/healthz').expect(200);
  });
});
