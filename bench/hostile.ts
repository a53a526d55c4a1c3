// Issue 12 figures, side by side in one run:
//
//   npx tsx bench/hostile.ts [--before <git-rev>] [--clients 150] [--skip-reviews] [--skip-shutdown] [--skip-slow]
//
// 1. Shutdown under keep-alive load: rolloutUnderLoad (test/server/rollout-load.ts)
//    against ws-drain's serve.ts, and against the peer "Node https + http.Server.close()"
//    (the same request listener, shut down the way serve.ts did before issue 12:
//    readyz 503, delay, server.close(), no Connection: close).
// 2. Per-review cost at the sizes: each review answered in a fresh child
//    process, by this checkout and by --before (default: the last commit before
//    issue 12), checked out into a temporary git worktree. Wall time, answer
//    bytes, peak RSS (maxRSS of the child), outcome.
// 3. Clients that never read: 60 connections pipelining big answers without
//    reading; open connections and server RSS over time, for both servers.
//
// Timings are for reading, not asserting: the machine is shared.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { createApp, type Lifecycle } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { createMetrics } from '../src/server/metrics.js';
import { startWebhook } from '../src/server/serve.js';
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
  answerBytes: number;
  maxRssMb: number;
  outcome: string;
}

/** Child mode: answer one review with the admission code under `root`, print a CaseResult. */
async function runCase(root: string, name: string): Promise<void> {
  const admission = (await import(pathToFileURL(join(root, 'src/server/admission.ts')).href)) as Record<string, (...a: unknown[]) => unknown>;
  const core = (await import(pathToFileURL(join(root, 'src/core/index.ts')).href)) as { DEFAULT_CONFIG: unknown };
  const body = JSON.stringify(admissionReview({ uid: name, object: CASES[name]!.pod() }));
  const started = process.hrtime.bigint();
  const parsed = admission['parseAdmissionReview']!(JSON.parse(body)) as { ok: boolean; review: unknown };
  let answer: string;
  if (admission['answerReview']) answer = (admission['answerReview'](parsed.review, core.DEFAULT_CONFIG) as { body: string }).body;
  else answer = admission['serializeReview']!((admission['admit']!(parsed.review, core.DEFAULT_CONFIG) as { review: unknown }).review) as string;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const response = (JSON.parse(answer) as { response: { allowed: boolean; patch?: string; status?: { message: string } } }).response;
  const outcome = response.patch ? 'mutated' : response.allowed ? 'allowed' : `denied (${response.status?.message.length ?? 0}-char message)`;
  const result: CaseResult = { ms, answerBytes: Buffer.byteLength(answer), maxRssMb: process.resourceUsage().maxRSS / 1024, outcome };
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
  r.error ?? `${r.ms?.toFixed(1)} ms, ${((r.answerBytes ?? 0) / 1024).toFixed(1)} KiB answer, ${r.maxRssMb?.toFixed(0)} MB peak, ${r.outcome}`;

async function reviewTable(before: string): Promise<void> {
  const old = beforeTree(before);
  console.log(`\n## Per-review cost: this checkout vs ${before} (one fresh process per review)\n`);
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

async function wsDrain(dir: string, delayMs: number): Promise<Replica> {
  const w = await startWebhook(localWebhookOptions(dir, { logLevel: 'silent', shutdownDelayMs: delayMs, shutdownTimeoutMs: 10_000 }));
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
  const server = kind === 'peer' ? await nodeClose(pems, 0, before) : await wsDrain(dir, 0);
  process.stdout.write(`${server.port}\n`);
  // Heap + buffers every 500 ms (after a GC when --expose-gc): what the process really holds, unlike RSS.
  setInterval(() => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`${((m.heapUsed + m.external + m.arrayBuffers) / 2 ** 20).toFixed(1)}\n`);
  }, 500);
}

function rssOf(pid: number): string {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return `${(Number(kb) / 1024).toFixed(0)} MB`;
}

async function slowClientsTable(beforeRev: string): Promise<void> {
  const old = beforeTree(beforeRev);
  const { dir, pems } = await certs();
  // The case: ws-drain/ports 1..65535 on 20 containers, whose answer was 20 MB.
  const body = JSON.stringify(admissionReview({ uid: 'never-read', object: CASES['ports20']!.pod() }));
  const request = `POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const clients = 20;
  console.log(`\n## ${clients} clients that send one review (ports 1..65535 × 20 containers) and never read\n`);
  console.log('(server process: RSS / heap + buffers after a GC; "open" = client sockets the server has not closed)\n');
  console.log('| server | idle | with clients (10 s) | open after 25 s | 5 s after clients left |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [label, kind] of [
    [`serve.ts and core at ${beforeRev} (before)`, 'peer'],
    ['ws-drain serve.ts (after)', 'ws-drain'],
  ] as const) {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--serve', kind, '--root', dir, '--code', old], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    let heap = '';
    child.stdout.on('data', (c: Buffer) => (heap = `${c.toString().trim().split('\n').pop() ?? ''} MB`));
    await new Promise((r) => setTimeout(r, 1_500));
    const idle = `${rssOf(child.pid!)} / ${heap}`;
    const sockets = Array.from({ length: clients }, () => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: pems.caCert, servername: 'localhost' });
      s.on('error', () => {});
      s.once('secureConnect', () => {
        s.pause();
        s.write(request);
      });
      return s;
    });
    await new Promise((r) => setTimeout(r, 10_000));
    const during = `${rssOf(child.pid!)} / ${heap}`;
    await new Promise((r) => setTimeout(r, 15_000));
    const open = sockets.filter((s) => !s.destroyed && !s.closed).length;
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 5_000));
    const after = `${rssOf(child.pid!)} / ${heap}`;
    child.kill('SIGKILL');
    console.log(`| ${label} | ${idle} | ${during} | ${open} of ${clients} | ${after} |`);
  }
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
  process.exit(0);
}
