// Large reviews answered on a review thread (review-pool.ts): the same bytes
// as on the event loop, clear errors when the thread fails, bounded queue,
// and shutdown that waits for the thread's work. No timing is asserted.
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import type { NamespaceView } from '../../src/core/namespace-defaults.js';
import { createReviewPool, OFFLOAD_MIN_BYTES, type Offloaded, type ReviewPool, type ReviewPoolOptions } from '../../src/server/review-pool.js';
import { answerParsed, parseReviewBody, type Route } from '../../src/server/review-routes.js';
import { startWebhook, type RunningWebhook, type WebhookOptions } from '../../src/server/serve.js';
import { admissionReview, capturingLogger, localWebhookOptions } from './review-fixtures.js';

type Json = Record<string, unknown>;
const FAILING_THREAD = new URL('./failing-review-thread.ts', import.meta.url);
/** failing-review-thread.ts answers a review with uid `gated` once 'release' is posted here. */
const GATE = 'ws-drain-test-gate';

const pools: ReviewPool[] = [];
const running: RunningWebhook[] = [];
afterEach(async () => {
  await Promise.all([...pools.splice(0).map((p) => p.close()), ...running.splice(0).map((w) => w.close())]);
});

/** Namespaces as the informer would have them: one opted in with defaults, one unknown. */
function namespaces(name: string): NamespaceView {
  if (name === 'opted-in') return { name, labels: { 'ws-drain.io/inject': 'enabled' }, annotations: { 'ws-drain/session-p95': '90s' } };
  if (name === 'unseen') return { name, known: false };
  return { name, labels: {}, annotations: {} };
}

function pool(extra: Partial<ReviewPoolOptions> = {}): ReviewPool {
  const p = createReviewPool({ config: DEFAULT_CONFIG, namespaces, logger: capturingLogger().logger, ...extra });
  pools.push(p);
  return p;
}

/** What the event loop answers for these bytes (mutate-handler.ts without a pool). */
function inline(route: Route, bytes: Uint8Array): { status: number; body: string } {
  const parsed = parseReviewBody(bytes);
  if (!parsed.ok) return { status: 400, body: parsed.error };
  return { status: 200, body: answerParsed(route, parsed.review, DEFAULT_CONFIG, namespaces).body };
}

function offloaded(o: Offloaded): { status: number; body: string } {
  if (o.kind === 'answer') return { status: 200, body: Buffer.from(o.body).toString('utf8') };
  if (o.kind === 'invalid') return { status: 400, body: o.error };
  throw new Error(`unexpected ${o.kind}: ${o.error}`);
}

const container = (name: string, extra: Json = {}): Json => ({ name, image: `registry.example/${name}:1`, ...extra });

/** Pods of hundreds of containers (so the review is over OFFLOAD_MIN_BYTES), with the annotations that change the core's path. */
const bigReview = fc
  .record({
    count: fc.integer({ min: 1000, max: 1800 }),
    proxyEvery: fc.integer({ min: 0, max: 5 }),
    annotations: fc.dictionary(
      fc.constantFrom('ws-drain/session-p95', 'ws-drain/ports', 'ws-drain/containers', 'ws-drain/mode', 'ws-drain/drain-http', 'ws-drain/grace-margin', 'ws-drain/plan'),
      fc.oneof(fc.constantFrom('5m', '30s', '0s', 'sleep', 'raise', '8080', '8080,9000', 'c1,c2', 'c1,nope', 'POST :8080/drain', '20%', ''), fc.string({ maxLength: 12 })),
      { maxKeys: 4 },
    ),
    // A few containers named: the rest are not injected, so a pod this big can still be mutated.
    targets: fc.constantFrom(undefined, 'c1', 'c1,c2,c3'),
    // Without it, only the namespace's opt-in label and default inject: the thread must see the namespace as the cache has it.
    session: fc.boolean(),
    namespace: fc.constantFrom('apps', 'opted-in', 'unseen'),
    route: fc.constantFrom<Route>('mutate', 'validate'),
    operation: fc.constantFrom('CREATE', 'UPDATE'),
    dryRun: fc.boolean(),
    corrupt: fc.constantFrom('none', 'none', 'none', 'json', 'envelope'),
  })
  .map((g) => {
    const containers = Array.from({ length: g.count }, (_, i) =>
      g.proxyEvery > 0 && i % g.proxyEvery === 0 ? container(`c${i}-proxy`, { image: 'nginx:1.27', ports: [{ containerPort: 9000 }] }) : container(`c${i}`, { ports: [{ name: `p${i}`, containerPort: 8080 + (i % 50) }] }),
    );
    const podSpec = { containers };
    const annotations = { ...(g.session ? { 'ws-drain/session-p95': '5m' } : {}), ...(g.targets ? { 'ws-drain/containers': g.targets } : {}), ...g.annotations };
    const object =
      g.route === 'mutate'
        ? { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: g.namespace, annotations }, spec: podSpec }
        : { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big', namespace: g.namespace }, spec: { template: { metadata: { annotations }, spec: podSpec } } };
    const review = admissionReview({
      uid: `uid-${g.count}`,
      namespace: g.namespace,
      operation: g.route === 'mutate' ? 'CREATE' : g.operation,
      dryRun: g.dryRun,
      object,
      ...(g.route === 'validate' ? { resource: { group: 'apps', version: 'v1', resource: 'deployments' }, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } } : {}),
    });
    if (g.corrupt === 'envelope') (review['request'] as Json)['uid'] = 42;
    let text = JSON.stringify(review);
    if (g.corrupt === 'json') text = text.slice(0, -3);
    return { route: g.route, bytes: Buffer.from(text) };
  });

describe('a review answered on a review thread', () => {
  it('gets byte for byte the answer the event loop gives (generated pods and workloads of 1,000-1,800 containers, bad bodies too)', async () => {
    const p = pool();
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(bigReview, async ({ route, bytes }) => {
        expect(bytes.byteLength).toBeGreaterThan(OFFLOAD_MIN_BYTES);
        const expected = inline(route, bytes);
        // The pool takes the bytes (transferred to the thread): give it a copy.
        const got = offloaded(await p.submit(route, Buffer.from(bytes)));
        expect(got).toEqual(expected);
        kinds.add(expected.status === 400 ? '400' : (JSON.parse(expected.body) as { response: { allowed: boolean; patch?: string } }).response.patch ? 'patched' : 'other');
      }),
      { numRuns: 40, seed: 1212 },
    );
    // The generator reached a mutation, another answer and a bad body.
    expect([...kinds].sort()).toEqual(['400', 'other', 'patched']);
  }, 120_000);

  it('over HTTPS: the same answer with and without review threads, and the thread path is the one counted', async () => {
    const { dir } = await certs();
    const containers = Array.from({ length: 900 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 }] }));
    const body = JSON.stringify(admissionReview({ uid: 'https-big', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m' } }, spec: { containers } } }));
    const withThreads = await start(dir, { reviewThreads: 1 });
    const without = await start(dir, { reviewThreads: 0 });
    const a = await post(withThreads.port, body);
    const b = await post(without.port, body);
    expect(a.status).toBe(200);
    expect(a.body).toBe(b.body);
    expect(JSON.parse(a.body).response.patch).toBeDefined();
    expect(await metric(withThreads, 'ws_drain_review_thread_jobs_total{result="answered"}')).toBe(1);
    expect(await metric(without, 'ws_drain_review_thread_jobs_total{result="answered"}')).toBe(0);
  }, 60_000);
});

describe('a review thread that fails', () => {
  const review = (uid: string): Buffer => Buffer.from(JSON.stringify(admissionReview({ uid, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m' }, labels: { pad: 'x'.repeat(60) } }, spec: { containers: Array.from({ length: 1600 }, (_, i) => container(`c${i}`)) } } })));

  it.each([
    ['exit', /the review thread exited \(code 3\)/],
    ['throw', /the review thread failed: Error: a bug in the review thread/],
  ])('%s: fails only its own review, with the uid, and the next review is answered by a new thread', async (uid, error) => {
    const p = pool({ entry: FAILING_THREAD });
    const failed = await p.submit('mutate', review(uid));
    expect(failed.kind).toBe('failed');
    if (failed.kind !== 'failed') return;
    expect(failed.error).toMatch(error);
    expect(failed.identity?.uid).toBe(uid);
    const next = await p.submit('mutate', review('fine'));
    expect(next.kind).toBe('answer');
  }, 60_000);

  it('a thread that hangs: its review fails at the job timeout, the thread is replaced', async () => {
    const p = pool({ entry: FAILING_THREAD, jobTimeoutMs: 500 });
    const failed = await p.submit('mutate', review('hang'));
    expect(failed).toMatchObject({ kind: 'failed', error: 'answering this review took longer than 500 ms', identity: { uid: 'hang' } });
    expect((await p.submit('mutate', review('fine'))).kind).toBe('answer');
  }, 60_000);

  it('a thread out of memory (its own heap limit) fails its review, not the process', async () => {
    const p = pool({ resourceLimits: { maxOldGenerationSizeMb: 12 } });
    const huge = Buffer.from(JSON.stringify(admissionReview({ uid: 'oom', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps' }, spec: { containers: Array.from({ length: 20_000 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 }] })) } } })));
    const failed = await p.submit('mutate', huge);
    expect(failed.kind).toBe('failed');
    if (failed.kind === 'failed') expect(failed.error).toMatch(/ERR_WORKER_OUT_OF_MEMORY|out of memory/i);
  }, 60_000);

  it('over HTTPS: a parsed review gets a 500 InternalError denial with its uid; one that died before parsing gets HTTP 500; both logged and counted', async () => {
    const { dir } = await certs();
    const captured = capturingLogger();
    const w = await start(dir, { logger: captured.logger, reviewPool: { entry: FAILING_THREAD } });
    const parsed = await post(w.port, review('exit').toString());
    expect(parsed.status).toBe(200);
    expect(JSON.parse(parsed.body).response).toEqual({
      uid: 'exit',
      allowed: false,
      status: { code: 500, reason: 'InternalError', message: 'ws-drain webhook internal error: the review thread exited (code 3)' },
    });
    const early = await post(w.port, review('exit-before-parse').toString());
    expect(early.status).toBe(500);
    expect(JSON.parse(early.body)).toEqual({ error: 'ws-drain webhook internal error: the review thread exited (code 3)' });
    expect(await metric(w, 'ws_drain_review_thread_jobs_total{result="crashed"}')).toBe(2);
    expect(await metric(w, 'ws_drain_admission_requests_total{outcome="error"}')).toBe(2);
    expect(captured.lines.filter((l) => l['msg'] === 'review thread failed')).toHaveLength(2);
  }, 60_000);
});

describe('bounded, and drained on shutdown', () => {
  it('answers busy (429, Retry-After) past the queue bound, and the review holding it is still answered', async () => {
    const { dir } = await certs();
    const make = (uid: string): string => JSON.stringify(admissionReview({ uid, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps' }, spec: { containers: Array.from({ length: 1500 }, (_, i) => container(`c${i}`)) } } }));
    const hang = make('hang');
    // Room for one body: the first review (hung in its thread until the job timeout) holds it.
    const w = await start(dir, { reviewPool: { entry: FAILING_THREAD, maxPendingBytes: Buffer.byteLength(hang) + 1, jobTimeoutMs: 3_000 } });
    const first = post(w.port, hang);
    let probe = await post(w.port, make('probe'));
    // Answered 200 only if it got in before the first one was queued.
    for (let i = 0; i < 50 && probe.status === 200; i++) probe = await post(w.port, make('probe'));
    expect(probe.status).toBe(429);
    expect(probe.headers['retry-after']).toBe('1');
    expect(JSON.parse(probe.body).error).toMatch(/^ws-drain is busy: 1 large reviews \(0\.\d MiB\) are being answered; retry$/);
    const r = await first;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).response.status.message).toBe('ws-drain webhook internal error: answering this review took longer than 3000 ms');
    expect(await metric(w, 'ws_drain_review_thread_jobs_total{result="busy"}')).toBe(1);
    expect(await metric(w, 'ws_drain_review_thread_jobs_total{result="timed_out"}')).toBe(1);
  }, 60_000);

  it('SIGTERM while a large review is on its thread: the review is answered in full before the webhook stops', async () => {
    const { dir } = await certs();
    const w = await start(dir, { shutdownTimeoutMs: 30_000, reviewPool: { entry: FAILING_THREAD } });
    const containers = Array.from({ length: 1600 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 }] }));
    const body = JSON.stringify(admissionReview({ uid: 'gated', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'c1' } }, spec: { containers } } }));
    const order: string[] = [];
    const gate = new BroadcastChannel(GATE);
    const held = new Promise((resolve) => (gate.onmessage = resolve));
    const answer = post(w.port, body).then((r) => (order.push('answered'), r));
    // The review is on its thread, parsed and held there.
    await held;
    expect(await metric(w, 'ws_drain_review_thread_pending')).toBe(1);
    const closed = w.close().then(() => order.push('closed'));
    gate.postMessage('release');
    gate.close();
    const r = await answer;
    await closed;
    expect(order).toEqual(['answered', 'closed']);
    expect(r.status).toBe(200);
    expect(r.body).toBe(inline('mutate', Buffer.from(body)).body);
    expect(JSON.parse(r.body).response.patch).toBeDefined();
  }, 60_000);

  it('close() waits for the running and the queued reviews, then later ones are busy', async () => {
    const p = pool();
    const make = (uid: string): Buffer => Buffer.from(JSON.stringify(admissionReview({ uid, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m' } }, spec: { containers: Array.from({ length: 1000 }, (_, i) => container(`c${i}`)) } } })));
    const order: string[] = [];
    const a = p.submit('mutate', make('a')).then((o) => (order.push('a'), o));
    const b = p.submit('mutate', make('b')).then((o) => (order.push('b'), o));
    expect(p.pending()).toBe(2);
    const closed = p.close().then(() => order.push('closed'));
    await closed;
    expect(order).toEqual(['a', 'b', 'closed']);
    expect((await a).kind).toBe('answer');
    expect((await b).kind).toBe('answer');
    expect((await p.submit('mutate', make('c'))).kind).toBe('busy');
  }, 60_000);
});

// ---------------------------------------------------------------- helpers

let dirPems: { dir: string; pems: DevCertPems } | undefined;
async function certs(): Promise<{ dir: string; pems: DevCertPems }> {
  if (dirPems) return dirPems;
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-threads-'));
  const pems = await generateDevCerts({ hosts: ['localhost'] });
  await writeDevCerts(dir, pems);
  dirPems = { dir, pems };
  return dirPems;
}
beforeAll(() => async () => {
  if (dirPems) await rm(dirPems.dir, { recursive: true, force: true });
});

async function start(dir: string, extra: Partial<WebhookOptions> = {}): Promise<RunningWebhook> {
  const w = await startWebhook(localWebhookOptions(dir, { logger: capturingLogger().logger, ...extra }));
  running.push(w);
  return w;
}

function post(port: number, body: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: dirPems!.pems.caCert, servername: 'localhost', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(w: RunningWebhook, series: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get({ host: '127.0.0.1', port: w.metricsPort, path: '/metrics' }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      }).on('error', reject),
    );
  });
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
