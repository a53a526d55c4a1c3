// Issue 12 figures, side by side in one run:
//
//   npx tsx bench/hostile.ts [--before <git-rev>] [--clients 150] [--skip-reviews] [--skip-shutdown] [--skip-slow] [--skip-concurrent] [--skip-isolation] [--rounds 2]
//
// 1. Shutdown under keep-alive load: rolloutUnderLoad (test/server/rollout-load.ts)
//    against ws-drain's serve.ts, and against the peer "Node https + http.Server.close()"
//    (the same request listener, shut down the way serve.ts did before issue 12:
//    readyz 503, delay, server.close(), no Connection: close).
// 2. Per-review cost at the issue's sizes: each review answered in a fresh child
//    process, by this checkout and by --before (default: the last commit before
//    issue 12), checked out into a temporary git worktree. Wall time, answer
//    bytes, peak RSS (maxRSS of the child), outcome.
// 3. Clients that never read: 20 connections that send one big review and
//    never read, against serve.ts before issue 12 and now; and 20 that pipeline
//    reviews without reading, against serve.ts with and without the unread-answer
//    timeout. Open connections and server memory, before, during and after.
// 4. One big review beside small ones: a small review's latency alone (the peer)
//    and while another connection sends a big review back to back, in one
//    server process answering everything on its event loop (--review-threads 0),
//    with the big review's own parse and core times.
// 5. Review threads: the event loop's time per review inline vs on a thread, by
//    size (where OFFLOAD_MIN_BYTES comes from); small reviews' p50/p99/max while
//    big ones (1,000 and 5,000 containers) are in flight, with review threads
//    and without (the peer: --review-threads 0), alternated in rounds.
//
// Timings are for reading, not asserting: the machine is shared.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { Agent, createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { performance as perfHooks } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { bareNamespace, parseAdmissionReview, answerReview } from '../src/server/admission.js';
import { createReviewPool } from '../src/server/review-pool.js';
import { answerParsed, parseReviewBody } from '../src/server/review-routes.js';
import { createApp, type Lifecycle } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { createMetrics } from '../src/server/metrics.js';
import { startWebhook, type WebhookOptions } from '../src/server/serve.js';
import { admissionReview, localWebhookOptions, optedInPod } from '../test/server/review-fixtures.js';
import { rolloutUnderLoad, type RolloutLoadResult } from '../test/server/rollout-load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const DEFAULT_BEFORE = '450a46c'; // main just before issue 12 landed

// ---------------------------------------------------------------- reviews

type Json = Record<string, unknown>;
const container = (name: string, extra: Json = {}): Json => ({ name, image: `registry.example/${name}:1`, ...extra });
const pod = (annotations: Record<string, string>, containers: Json[]): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'hostile', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m', ...annotations } },
  spec: { containers },
});
const allPorts = Array.from({ length: 65535 }, (_, i) => String(i + 1)).join(',');

const CASES: Record<string, { label: string; pod: () => Json }> = {
  normal: { label: 'normal 3-container pod', pod: () => optedInPod() },
  ports20: { label: 'ports 1..65535 × 20 containers', pod: () => pod({ 'ws-drain/ports': allPorts }, Array.from({ length: 20 }, (_, i) => container(`c${i}`))) },
  ports100: { label: 'ports 1..65535 × 100 containers', pod: () => pod({ 'ws-drain/ports': allPorts }, Array.from({ length: 100 }, (_, i) => container(`c${i}`))) },
  ports700: { label: 'ports 1..65535 × 700 containers', pod: () => pod({ 'ws-drain/ports': allPorts }, Array.from({ length: 700 }, (_, i) => container(`c${i}`))) },
  unknownPorts: {
    label: '8,000 unknown port names, 5,000 named ports',
    pod: () =>
      pod(
        { 'ws-drain/ports': Array.from({ length: 8000 }, (_, i) => `u${i}`).join(',') },
        Array.from({ length: 50 }, (_, c) => container(`c${c}`, { ports: Array.from({ length: 100 }, (_, i) => ({ containerPort: 1000 + c * 100 + i, name: `p${c}x${i}` })) })),
      ),
  },
  unknownContainers: {
    label: '2,000 unknown containers on 5,000',
    pod: () =>
      pod(
        { 'ws-drain/containers': Array.from({ length: 2000 }, (_, i) => `missing-${i}`).join(',') },
        Array.from({ length: 5000 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 }] })),
      ),
  },
  plan40k: {
    label: '~40 KB review: 6,000 ports × 60 containers',
    pod: () =>
      pod(
        { 'ws-drain/ports': Array.from({ length: 6000 }, (_, i) => String(1000 + i)).join(',') },
        Array.from({ length: 60 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 1000 }] })),
      ),
  },
};

interface CaseResult {
  ms: number;
  /** Median CPU ms of 15 more runs in the same process (parse through serialisation), when the first took under 2 s. */
  warmCpuMs?: number;
  answerBytes: number;
  maxRssMb: number;
  outcome: string;
}

/** Child mode: answer one review with the admission code under `root`, print a CaseResult. */
async function runCase(root: string, name: string): Promise<void> {
  const admission = (await import(pathToFileURL(join(root, 'src/server/admission.ts')).href)) as Record<string, (...a: unknown[]) => unknown>;
  const core = (await import(pathToFileURL(join(root, 'src/core/index.ts')).href)) as { DEFAULT_CONFIG: unknown };
  const body = JSON.stringify(admissionReview({ uid: name, object: CASES[name]!.pod() }));
  const once = (): string => {
    const parsed = admission['parseAdmissionReview']!(JSON.parse(body)) as { ok: boolean; review: unknown };
    if (admission['answerReview']) return (admission['answerReview'](parsed.review, core.DEFAULT_CONFIG) as { body: string }).body;
    return admission['serializeReview']!((admission['admit']!(parsed.review, core.DEFAULT_CONFIG) as { review: unknown }).review) as string;
  };
  const started = process.hrtime.bigint();
  const answer = once();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // of the one cold answer, before the repeats
  const warmCpuMs = ms < 2_000 ? medianMs(once, 15) : undefined;
  const response = (JSON.parse(answer) as { response: { allowed: boolean; patch?: string; status?: { message: string } } }).response;
  const outcome = response.patch ? 'mutated' : response.allowed ? 'allowed' : `denied (${response.status?.message.length ?? 0}-char message)`;
  const result: CaseResult = { ms, warmCpuMs, answerBytes: Buffer.byteLength(answer), maxRssMb, outcome };
  process.stdout.write(`${JSON.stringify({ reviewBytes: Buffer.byteLength(body), ...result })}\n`);
}

function childCase(root: string, name: string): Promise<{ reviewBytes?: number } & Partial<CaseResult> & { error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--max-old-space-size=3072', '--import', 'tsx', SELF, '--case', name, '--root', root], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        const why = /ERR_STRING_TOO_LONG|heap out of memory|Invalid string length/.exec(err)?.[0] ?? (signal ? `killed (${signal})` : `exit ${String(code)}`);
        resolve({ error: `crashed: ${why}` });
      }
    });
  });
}

function beforeTree(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ws-drain-before-'));
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, rev], { stdio: 'ignore' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  process.once('exit', () => {
    execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
  });
  return dir;
}

const fmt = (r: Partial<CaseResult> & { error?: string }): string =>
  r.error ??
  `${r.ms?.toFixed(1)} ms cold${r.warmCpuMs === undefined ? '' : ` (${r.warmCpuMs.toFixed(1)} ms CPU warm)`}, ${((r.answerBytes ?? 0) / 1024).toFixed(1)} KiB answer, ${r.maxRssMb?.toFixed(0)} MB peak, ${r.outcome}`;

async function reviewTable(before: string): Promise<void> {
  const old = beforeTree(before);
  console.log(`\n## Per-review cost: this checkout vs ${before} (one fresh process per review: the first answer, then the median CPU of 15 more)\n`);
  console.log('| review | review size | before | after | peak RSS before → after |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const name of Object.keys(CASES)) {
    const after = await childCase(ROOT, name);
    const prior = await childCase(old, name);
    const size = after.reviewBytes ?? prior.reviewBytes ?? 0;
    const rss = `${prior.maxRssMb?.toFixed(0) ?? '—'} → ${after.maxRssMb?.toFixed(0) ?? '—'} MB`;
    console.log(`| ${CASES[name]!.label} | ${(size / 1024).toFixed(0)} KiB | ${fmt(prior)} | ${fmt(after)} | ${rss} |`);
  }
}

// ---------------------------------------------------------------- servers

interface Replica {
  port: number;
  close(): Promise<void>;
  server?: Server;
}

async function certs(): Promise<{ dir: string; pems: DevCertPems }> {
  const dir = mkdtempSync(join(tmpdir(), 'ws-drain-bench-'));
  const pems = await generateDevCerts({ hosts: ['localhost'] });
  await writeDevCerts(dir, pems);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { dir, pems };
}

async function wsDrain(dir: string, delayMs: number, timeouts: WebhookOptions['timeouts'] = {}, extra: Partial<WebhookOptions> = {}): Promise<Replica> {
  const w = await startWebhook(localWebhookOptions(dir, { logLevel: 'silent', shutdownDelayMs: delayMs, shutdownTimeoutMs: 10_000, timeouts, ...extra }));
  return { port: w.port, close: () => w.close() };
}

/** The peer: same request listener, Node's defaults and Node's close(), as serve.ts was before issue 12. */
async function nodeClose(pems: DevCertPems, delayMs: number, makeApp: typeof createApp = createApp): Promise<Replica> {
  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = makeApp({ config: DEFAULT_CONFIG, logger: createLogger('silent'), metrics: createMetrics(), lifecycle });
  const server = createHttpsServer({ cert: pems.tlsCert, key: pems.tlsKey, keepAliveTimeout: 120_000 }, app);
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: async () => {
      lifecycle.shuttingDown = true;
      await new Promise((r) => setTimeout(r, delayMs));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 10_000);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

async function shutdownTable(clients: number): Promise<void> {
  const { dir, pems } = await certs();
  const body = JSON.stringify(admissionReview({ uid: 'rollout' }));
  const rows: Array<[string, RolloutLoadResult]> = [];
  for (const [label, make] of [
    ['Node https + server.close() (peer; serve.ts before)', () => nodeClose(pems, 1_000)],
    ['ws-drain serve.ts', () => wsDrain(dir, 1_000)],
  ] as const) {
    const old = await make();
    const next = await wsDrain(dir, 0);
    const r = await rolloutUnderLoad({
      clients,
      ca: pems.caCert,
      oldPort: old.port,
      newPort: next.port,
      body,
      shutdownOld: () => old.close(),
      warmupMs: 500,
      cooldownMs: 500,
      propagationMs: 300,
    });
    await next.close();
    rows.push([label, r]);
  }
  console.log(`\n## Shutdown under ${clients} keep-alive clients (shutdown delay 1 s, endpoints propagate after 300 ms)\n`);
  console.log('| server | requests ok | failed | failures | answers with Connection: close | readyz during shutdown |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [label, r] of rows) {
    console.log(`| ${label} | ${r.ok} | ${r.failed} | ${JSON.stringify(r.failures)} | ${r.connectionClose} | ${r.readyzDuringShutdown} |`);
  }
}

// ---------------------------------------------------------------- slow clients

/** Child mode: run one server kind on the certs in `dir`, print its port, live until killed. */
async function serveChild(kind: string, dir: string, code: string | undefined): Promise<void> {
  const pems = { tlsCert: readFileSync(join(dir, 'tls.crt'), 'utf8'), tlsKey: readFileSync(join(dir, 'tls.key'), 'utf8') } as DevCertPems;
  // The peer answers with the request listener of `code` (the --before tree): serve.ts as it was.
  const before = code ? ((await import(pathToFileURL(join(code, 'src/server/app.ts')).href)) as { createApp: typeof createApp }).createApp : createApp;
  // 'no-unread': serve.ts with the unread-answer timeout out of the way (as before it existed).
  // 'inline': every review on the event loop (serve --review-threads 0), as before review threads.
  const server =
    kind === 'peer'
      ? await nodeClose(pems, 0, before)
      : await wsDrain(dir, 0, kind === 'no-unread' ? { unreadAnswerMs: 3_600_000 } : {}, kind === 'inline' ? { reviewThreads: 0 } : {});
  process.stdout.write(`${server.port}\n`);
  // Heap + buffers every 500 ms (after a GC when --expose-gc): what the process really holds, unlike RSS.
  setInterval(() => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`${((m.heapUsed + m.external + m.arrayBuffers) / 2 ** 20).toFixed(1)}\n`);
  }, 500);
}

/** CPU time (user + system) a process has used so far, from /proc (10 ms ticks). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
}

function rssOf(pid: number): string {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return `${(Number(kb) / 1024).toFixed(0)} MB`;
}

type NeverReader = (port: number, ca: string, request: string) => import('node:tls').TLSSocket;

/** Sends one review and never reads. */
const sendsOnce: NeverReader = (port, ca, request) => {
  const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  s.on('error', () => {});
  s.once('secureConnect', () => {
    s.pause();
    s.write(request);
  });
  return s;
};

/**
 * Pipelines 8 reviews, 1 s apart, and never reads: the kernel's buffers take
 * the first answers, Node holds the rest. (More, or faster, and Node's HTTP
 * parser drops the connection at once: "Parse Error: Paused".)
 */
const pipelines: NeverReader = (port, ca, request) => {
  const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  s.on('error', () => {});
  s.once('secureConnect', () => {
    s.pause();
    let sent = 0;
    const timer = setInterval(() => {
      if (s.destroyed || ++sent > 8) clearInterval(timer);
      else s.write(request);
    }, 1_000);
  });
  return s;
};

async function neverReadingTable(title: string, review: Record<string, unknown>, client: NeverReader, servers: ReadonlyArray<readonly [string, string]>, code: string): Promise<void> {
  const { dir, pems } = await certs();
  const body = JSON.stringify(admissionReview({ uid: 'never-read', object: review }));
  const request = `POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const clients = 20;
  console.log(`\n## ${clients} clients that ${title}\n`);
  console.log('(server process: RSS / heap + buffers after a GC; open = the server\'s established connections, from /proc/net/tcp, at 10, 18 and 24 s after the clients started)\n');
  console.log('| server | idle | with clients (10 s) | open at 10 s / 18 s / 24 s | 5 s after clients left |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [label, kind] of servers) {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--serve', kind, '--root', dir, '--code', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    let heap = '';
    child.stdout.on('data', (c: Buffer) => (heap = `${c.toString().trim().split('\n').pop() ?? ''} MB`));
    await new Promise((r) => setTimeout(r, 1_500));
    const idle = `${rssOf(child.pid!)} / ${heap}`;
    const sockets = Array.from({ length: clients }, () => client(port, pems.caCert, request));
    const sleep = (ms: number): Promise<unknown> => new Promise((r) => setTimeout(r, ms));
    await sleep(10_000);
    const during = `${rssOf(child.pid!)} / ${heap}`;
    const open10 = establishedOn(port);
    await sleep(8_000);
    const open18 = establishedOn(port);
    await sleep(6_000);
    const open24 = establishedOn(port);
    for (const s of sockets) s.destroy();
    await sleep(5_000);
    const after = `${rssOf(child.pid!)} / ${heap}`;
    child.kill('SIGKILL');
    console.log(`| ${label} | ${idle} | ${during} | ${open10} / ${open18} / ${open24} of ${clients} | ${after} |`);
  }
}

/** Established TCP connections whose local port is `port` (the server's side), from /proc/net/tcp and tcp6. */
function establishedOn(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex) && f[3] === '01') n++;
    }
  }
  return n;
}

async function slowClientsTable(beforeRev: string): Promise<void> {
  const old = beforeTree(beforeRev);
  // The issue's case: ws-drain/ports 1..65535 on 20 containers, whose answer was 20 MB.
  await neverReadingTable('send one review (ports 1..65535 × 20 containers) and never read', CASES['ports20']!.pod(), sendsOnce, [
    [`serve.ts and core at ${beforeRev} (before)`, 'peer'],
    ['ws-drain serve.ts (after)', 'ws-drain'],
  ], old);
  // An answer near the caps (~0.7 MiB: 1,000 ports on 80 containers), pipelined.
  const nearCap = pod(
    { 'ws-drain/ports': Array.from({ length: 1000 }, (_, i) => String(20_000 + i)).join(',') },
    Array.from({ length: 80 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 20_000 }] })),
  );
  await neverReadingTable('pipeline 8 reviews with a ~0.7 MiB answer, 1 s apart, and never read', nearCap, pipelines, [
    ['serve.ts without the unread-answer timeout (peer)', 'no-unread'],
    ['ws-drain serve.ts (unread-answer timeout 10 s)', 'ws-drain'],
  ], old);
}

// ---------------------------------------------------------------- one big review beside small ones

/** Reviews of thousands of containers, each answered whole (no cap cuts their work short before the core runs). */
const BIG: Record<string, { label: string; pod: () => Json }> = {
  plain5000: { label: '5,000 containers, a port each (denied: injected-bytes estimate)', pod: () => pod({}, Array.from({ length: 5000 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 + (i % 100) }] }))) },
  proxies5000: {
    label: '2,500 apps + 2,500 nginx proxies (denied: estimate)',
    pod: () => pod({}, Array.from({ length: 5000 }, (_, i) => (i % 2 ? container(`c${i}-proxy`, { image: 'nginx:1.27', ports: [{ containerPort: 9000 }] }) : container(`c${i}`, { ports: [{ containerPort: 8080 }] })))),
  },
  unknownContainers: CASES['unknownContainers']!,
  mutate900: { label: '900 containers, mutated (~0.46 MiB answer)', pod: () => pod({}, Array.from({ length: 900 }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 }] }))) },
};

/** Milliseconds `f` took by `clock`: CPU (user + system; steadier than wall time on a shared machine), or wall. */
const CLOCKS = {
  cpu: (f: () => unknown): number => {
    const a = process.cpuUsage();
    f();
    const u = process.cpuUsage(a);
    return (u.user + u.system) / 1000;
  },
  wall: (f: () => unknown): number => {
    const a = performance.now();
    f();
    return performance.now() - a;
  },
};

/** Median ms of `f` over `n` warm runs. */
function medianMs(f: () => unknown, n = 21, clock: keyof typeof CLOCKS = 'cpu'): number {
  for (let i = 0; i < 3; i++) f();
  const t = Array.from({ length: n }, () => CLOCKS[clock](f));
  return t.sort((x, y) => x - y)[Math.floor(n / 2)]!;
}

function post(agent: Agent, port: number, ca: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** `count` small reviews one after another, a random 0–4 ms apart so they land anywhere in a big review's processing. */
async function smallLatencies(port: number, ca: string, body: string, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  await post(agent, port, ca, body);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await post(agent, port, ca, body));
    await new Promise((r) => setTimeout(r, Math.random() * 4));
  }
  agent.destroy();
  return out;
}

async function concurrentTable(): Promise<void> {
  const { dir, pems } = await certs();
  // Without --expose-gc: the memory sampler's forced full GC every 500 ms would stall the server here.
  // On the event loop (--review-threads 0): what one review costs the loop that answers all the others.
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--serve', 'inline', '--root', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  const small = JSON.stringify(admissionReview({ uid: 'small' }));
  const count = 200;
  console.log('\n## One big review beside small ones, all on the event loop (one server process, --review-threads 0; small = the normal 3-container review)\n');
  console.log(`Big review costs: warm median CPU time in this process (JSON.parse of the body; zod envelope + decide + serialisation). Load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs.`);
  console.log(`Server CPU: the server process's /proc CPU time over 40 big (400 small) reviews, divided. On a machine with a free core, the longest a small review can wait behind a big one is the big one's server CPU.`);
  console.log(`Small review: ${count} sequential requests on one keep-alive connection, alone (peer) and while a second connection sends the big review back to back (wall time: on a loaded machine it includes waiting for a CPU).\n`);
  console.log('| big review | body | JSON.parse | validate + decide + serialise | server CPU per big review (TLS, HTTP, parse, core, answer) | server CPU per small review | small alone p50 / p99 | small beside big p50 / p99 / max |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of Object.values(BIG)) {
    const body = JSON.stringify(admissionReview({ uid: 'big', object: c.pod() }));
    const parseMs = medianMs(() => JSON.parse(body));
    const parsed = JSON.parse(body) as unknown;
    const coreMs = medianMs(() => {
      const r = parseAdmissionReview(parsed);
      if (r.ok) answerReview(r.review, DEFAULT_CONFIG);
    });
    const serverCpu = async (n: number, f: () => Promise<unknown>): Promise<number> => {
      await f();
      const before = cpuMsOf(child.pid!);
      for (let i = 0; i < n; i++) await f();
      return (cpuMsOf(child.pid!) - before) / n;
    };
    const bigAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const smallAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const bigCpu = await serverCpu(40, () => post(bigAgent, port, pems.caCert, body));
    const smallCpu = await serverCpu(400, () => post(smallAgent, port, pems.caCert, small));
    smallAgent.destroy();
    const alone = await smallLatencies(port, pems.caCert, small, count);
    let stop = false;
    const flood = (async () => {
      while (!stop) await post(bigAgent, port, pems.caCert, body);
    })();
    const beside = await smallLatencies(port, pems.caCert, small, count);
    stop = true;
    await flood;
    bigAgent.destroy();
    const f = (x: number): string => x.toFixed(1);
    console.log(
      `| ${c.label} | ${(Buffer.byteLength(body) / 1024).toFixed(0)} KiB | ${f(parseMs)} ms | ${f(coreMs)} ms | ${f(bigCpu)} ms | ${f(smallCpu)} ms | ` +
        `${f(pct(alone, 50))} / ${f(pct(alone, 99))} ms | ${f(pct(beside, 50))} / ${f(pct(beside, 99))} / ${f(Math.max(...beside))} ms |`,
    );
  }
  child.kill('SIGKILL');
}

// ---------------------------------------------------------------- review threads: isolation

/** Event-loop time per review answered inline vs sent to a review thread, by body size: where OFFLOAD_MIN_BYTES comes from. */
async function thresholdTable(): Promise<void> {
  const pool = createReviewPool({ config: DEFAULT_CONFIG, namespaces: bareNamespace, logger: createLogger('silent') });
  console.log('\n## Event-loop time per review: answered inline vs sent to a review thread (in this process; warm)\n');
  console.log('Inline: median wall time of parse + answer. Thread: the event loop\'s active time (performance.eventLoopUtilization) per review, 40 reviews one after another: posting the body, the namespace round trip, receiving the answer.\n');
  console.log('| containers | body | inline | on a thread: event-loop time | thread wall time per review |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const n of [25, 100, 250, 500, 800, 1000, 2500, 5000]) {
    const body = Buffer.from(JSON.stringify(admissionReview({ uid: 'size', object: pod({}, Array.from({ length: n }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 + (i % 100) }] }))) })));
    const inlineMs = medianMs(
      () => {
        const r = parseReviewBody(body);
        if (r.ok) answerParsed('mutate', r.review, DEFAULT_CONFIG, bareNamespace);
      },
      31,
      'wall',
    );
    for (let i = 0; i < 5; i++) await pool.submit('mutate', Buffer.from(body));
    const runs = 40;
    const elu = perfHooks.eventLoopUtilization();
    const started = performance.now();
    for (let i = 0; i < runs; i++) await pool.submit('mutate', Buffer.from(body));
    const wall = (performance.now() - started) / runs;
    const used = perfHooks.eventLoopUtilization(elu);
    console.log(`| ${n} | ${(body.byteLength / 1024).toFixed(0)} KiB | ${inlineMs.toFixed(2)} ms | ${(used.active / runs).toFixed(2)} ms | ${wall.toFixed(2)} ms |`);
  }
  await pool.close();
}

/**
 * Small reviews' latency while big ones are in flight, the same server code
 * with review threads (the default) and without (--review-threads 0, the
 * peer: every review on the event loop), alternated in rounds.
 */
async function isolationTable(rounds: number): Promise<void> {
  const { dir, pems } = await certs();
  const small = JSON.stringify(admissionReview({ uid: 'small' }));
  const bigs: Array<[string, string]> = [1000, 5000].map((n) => [
    `${n.toLocaleString('en')} containers`,
    JSON.stringify(admissionReview({ uid: 'big', object: pod({}, Array.from({ length: n }, (_, i) => container(`c${i}`, { ports: [{ containerPort: 8080 + (i % 100) }] }))) })),
  ]);
  const modes = [
    ['event loop only (--review-threads 0; peer)', 'inline'],
    ['review thread (default: 1 thread)', 'ws-drain'],
  ] as const;
  const count = 200;
  const bigClients = 2;
  const load = [loadavg()[0]!];
  type Row = { small: number[]; big: number[]; bigAlone: number[]; busy: number };
  const rows = new Map<string, Row>();
  for (let round = 0; round < rounds; round++) {
    for (const [bigLabel, bigBody] of bigs) {
      for (const [, kind] of modes) {
        const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--serve', kind, '--root', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
        const port = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
        const row = rows.get(`${bigLabel}|${kind}`) ?? { small: [], big: [], bigAlone: [], busy: 0 };
        rows.set(`${bigLabel}|${kind}`, row);
        // Warm: the big review answered 20 times (the thread started and its code compiled), small ones in smallLatencies.
        const warm = new Agent({ keepAlive: true, maxSockets: 1 });
        for (let i = 0; i < 20; i++) await postStatus(warm, port, pems.caCert, bigBody);
        // The big review alone, one after another: what the thread hop costs the big review itself.
        for (let i = 0; i < 20; i++) row.bigAlone.push((await postStatus(warm, port, pems.caCert, bigBody)).ms);
        warm.destroy();
        let stop = false;
        const floods = Array.from({ length: bigClients }, async () => {
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          while (!stop) {
            const r = await postStatus(agent, port, pems.caCert, bigBody);
            if (r.status === 429) row.busy++;
            else row.big.push(r.ms);
          }
          agent.destroy();
        });
        row.small.push(...(await smallLatencies(port, pems.caCert, small, count)));
        stop = true;
        await Promise.all(floods);
        child.kill('SIGKILL');
        load.push(loadavg()[0]!);
      }
    }
  }
  const f = (x: number): string => x.toFixed(1);
  const stats = (xs: number[]): string => `${f(pct(xs, 50))} / ${f(pct(xs, 99))} / ${f(Math.max(...xs))}`;
  console.log(`\n## Small reviews while big ones are in flight: review threads vs the event loop alone (${rounds} round(s), alternated)\n`);
  console.log(`${count} small reviews (the normal 3-container review) per round, one after another on a keep-alive connection, while ${bigClients} other connections send the big review back to back. Same server code, a fresh process per row and round. Load average ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs: wall times include waiting for a CPU.\n`);
  console.log('| big reviews in flight | server | small p50 / p99 / max | big p50 / p99 (beside small ones) | big alone p50 | big answered 429 (busy) | small p99: threads / event loop |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [bigLabel, bigBody] of bigs) {
    const inline = rows.get(`${bigLabel}|inline`)!;
    for (const [label, kind] of modes) {
      const r = rows.get(`${bigLabel}|${kind}`)!;
      const ratio = kind === 'inline' ? '' : `${(pct(r.small, 99) / pct(inline.small, 99)).toFixed(2)}× (p50 ${(pct(r.small, 50) / pct(inline.small, 50)).toFixed(2)}×)`;
      console.log(`| ${bigLabel} (${(Buffer.byteLength(bigBody) / 1024).toFixed(0)} KiB) | ${label} | ${stats(r.small)} ms | ${f(pct(r.big, 50))} / ${f(pct(r.big, 99))} ms | ${f(pct(r.bigAlone, 50))} ms | ${r.busy} of ${r.busy + r.big.length} | ${ratio} |`);
    }
  }
}

function postStatus(agent: Agent, port: number, ca: string, body: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- main

const { values } = parseArgs({
  options: {
    case: { type: 'string' },
    serve: { type: 'string' },
    code: { type: 'string' },
    root: { type: 'string' },
    before: { type: 'string', default: DEFAULT_BEFORE },
    clients: { type: 'string', default: '150' },
    'skip-reviews': { type: 'boolean', default: false },
    'skip-shutdown': { type: 'boolean', default: false },
    'skip-slow': { type: 'boolean', default: false },
    'skip-concurrent': { type: 'boolean', default: false },
    'skip-isolation': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
  },
});

if (values.case !== undefined) {
  await runCase(values.root ?? ROOT, values.case);
} else if (values.serve !== undefined) {
  await serveChild(values.serve, values.root ?? '', values.code);
} else {
  if (!existsSync(join(ROOT, 'node_modules'))) throw new Error('run npm ci first');
  console.log(`# ws-drain hostile-input bench (${new Date().toISOString()}, node ${process.version})`);
  if (!values['skip-shutdown']) await shutdownTable(Number(values.clients));
  if (!values['skip-slow']) await slowClientsTable(values.before);
  if (!values['skip-reviews']) await reviewTable(values.before);
  if (!values['skip-concurrent']) await concurrentTable();
  if (!values['skip-isolation']) {
    await thresholdTable();
    await isolationTable(Number(values.rounds));
  }
  process.exit(0);
}
