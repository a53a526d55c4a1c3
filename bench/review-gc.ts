// What one review allocates, and the GC it causes: serve as the image runs it
// (the bundle, the image's Node release, flags and environment, jemalloc
// preloaded, default logging) under V8's --trace-gc-nvp and
// --trace-memory-reducer, driven over keep-alive TLS 1.3 connections; per
// variant, rounds interleaved:
//   heap bytes allocated per review (the sum of V8's `allocated=` over the
//   phase's collections, over its reviews), scavenges and mark-compacts per
//   10,000 reviews (the mark-compacts by what started them: V8's memory
//   reducer, which starts full GCs when the allocation rate looks low, or the
//   old generation's allocation limit), the longest pause of each kind,
//   server CPU µs per review (/proc/<pid>/stat; of it the main thread's, the
//   rest being V8's and libuv's helper threads), the handler's median wall time
//   (the log line's durationMs), RSS at the phase's end, and
//   with --rate the latency from each review's intended send time (p50, p99)
//   and how late the generator itself sent (p99), and p99 from the actual send.
//
//   npx tsx bench/review-gc.ts --variant now=dist/bundle/main.cjs --variant 'off=dist/bundle/main.cjs --answer-cache-size 0'
//   npx tsx bench/review-gc.ts --pods 1000 '--serve-args=--answer-cache-size 0'   (a value that starts with - needs the =)
//   npx tsx bench/review-gc.ts --rate 200 --reviews 12000 --variant image=dist/bundle/main.cjs --variant 'no-reducer=--no-memory-reducer dist/bundle/main.cjs'
//   options: --variant 'label=[node flags ...] path/to/main.cjs [serve args ...]' (node flags: added to IMAGE_NODE_FLAGS)
//            --pods N (1: one pod again and again; N > 256: every review an answer-cache miss)
//            --reviews N --warmup N --rounds N --connections N --rate R (0: closed loop) --serve-args "..."
//            --idle S       seconds idle between the warm-up and the phase (0.3)
//            --gc-log DIR   keeps each server's trace there, and prints the phase's mark-compacts (time, cause, pause, heap)
//            --callgrind DIR  each server under valgrind's callgrind, counters zeroed after the warm-up, dumped after the
//                             phase into DIR: instructions per review, every thread and the main thread (CPU figures then
//                             are valgrind's); --cache-sim adds simulated I1/D1/LL misses and branch mispredicts
//                             (VALGRIND_OPTS=--LL=1048576,8,64 makes LL the size of this machine's L2)
//
// Complements bench/admission.ts (CPU per review against agnhost, RSS, cold
// start), which cannot see the heap: this is the bench for allocation work.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';
import { IMAGE_NODE_FLAGS, assertPreloaded, freePort, hostJemalloc, imageNodeEnv } from '../scripts/bundle.js';
import { metricsPortFromLog, scrapeMetrics } from './lib/server-metrics.js';
import { benchDistinctReviews, benchReview } from './review.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

interface Phase {
  allocatedPerReview: number;
  scavenges: number;
  markCompacts: number;
  /** Of the mark-compacts, those V8's memory reducer started. */
  reducerMarkCompacts: number;
  gcPauseMs: number;
  maxScavengeMs: number;
  maxMarkCompactMs: number;
  /** V8's semi-space capacity after the phase's last GC, MiB. */
  semiSpaceMiB: number;
  cpuUs: number;
  /** Of it, the main thread's (the event loop: JavaScript, TLS, the interpreter and Maglev), µs per review. */
  mainCpuUs: number;
  /** The handler's own wall time (the log line's durationMs: body → answer written to the socket), median µs. */
  handlerUs: number;
  rssMiB: number;
  p50: number;
  p99: number;
  /** How late the generator sent, p99 ms (paced only). */
  sendLateP99: number;
  /** p99 from the actual send: without the generator's own lateness in sending. */
  p99FromSent: number;
  /** --callgrind: callgrind's events per review over the phase, every thread ("Ir": instructions), and the main thread's instructions. */
  events: Record<string, number>;
}

interface Gc {
  /** ms since the server's isolate started, at the GC's end. */
  at: number;
  kind: string;
  pause: number;
  allocated: number;
  /** The memory reducer started it (its `started GC` line came since the last mark-compact). */
  reducer: boolean;
  /** Heap objects before and after, bytes. */
  before: number;
  after: number;
  /** V8's new_space_capacity after it: one semi-space, bytes. */
  semiSpace: number;
}

async function cpuTicks(pid: number, file = `/proc/${pid}/stat`): Promise<number> {
  const stat = await readFile(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The main thread's ticks: the thread whose id is the process's. */
const mainCpuTicks = (pid: number): Promise<number> => cpuTicks(pid, `/proc/${pid}/task/${pid}/stat`);

async function rssMiB(pid: number): Promise<number> {
  return Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

/**
 * `n` reviews over `agent`'s connections: closed loop (rate 0) or paced at `rate`/s; latencies in ms from each
 * intended send and from the actual send, and (paced) how late each was sent.
 */
async function drive(port: number, ca: string, agent: Agent, bodies: string[], expected: string[], n: number, connections: number, rate: number, start: number): Promise<{ lat: number[]; fromSent: number[]; late: number[] }> {
  const lat: number[] = [];
  const fromSent: number[] = [];
  const late: number[] = [];
  let next = start;
  const one = (i: number, intended: number): Promise<void> =>
    new Promise((done, fail) => {
      const k = i % bodies.length;
      const sent = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, agent, ...TLS13, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 || text !== expected[k]) return fail(new Error(`review ${k}: ${res.statusCode} ${text.slice(0, 200)}`));
          const now = performance.now();
          lat.push(now - intended);
          fromSent.push(now - sent);
          done();
        });
      });
      req.on('error', fail);
      req.end(bodies[k]);
    });
  if (rate === 0) {
    const workers = Array.from({ length: connections }, async () => {
      while (next < start + n) {
        const i = next++;
        await one(i, performance.now());
      }
    });
    await Promise.all(workers);
    return { lat, fromSent, late };
  }
  const t0 = performance.now() + 5;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const intended = t0 + (i * 1000) / rate;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
    while (performance.now() < intended);
    late.push(performance.now() - intended);
    pending.push(one(start + i, intended));
  }
  await Promise.all(pending);
  return { lat, fromSent, late };
}

/** The collections in a --trace-gc-nvp --trace-memory-reducer log. */
function gcLines(text: string): Gc[] {
  const out: Gc[] = [];
  let reducerStarted = false;
  for (const line of text.split('\n')) {
    if (/Memory reducer: started GC/.test(line)) reducerStarted = true;
    const m = /\s([\d.]+) ms: pause=([\d.]+) .*gc=(\w+) .* start_object_size=(\d+) end_object_size=(\d+) .* allocated=(\d+) .* new_space_capacity=(\d+) /.exec(line);
    if (!m) continue;
    const kind = m[3]!;
    out.push({ at: Number(m[1]), pause: Number(m[2]), kind, before: Number(m[4]), after: Number(m[5]), allocated: Number(m[6]), semiSpace: Number(m[7]), reducer: kind !== 's' && reducerStarted });
    if (kind !== 's') reducerStarted = false;
  }
  return out;
}

// Instrumentation off until the warm-up is over: a warm-up of 40,000 reviews takes minutes, not an hour.
const CALLGRIND = ['--tool=callgrind', '--collect-jumps=no', '--smc-check=all-non-file', '--separate-threads=yes', '--instr-atstart=no'];
/** Simulated caches and branch predictors: I1/D1/LL misses (I1mr, D1mr, D1mw, ILmr, DLmr, DLmw) and mispredicts (Bcm, Bim). */
const CACHE_SIM = ['--cache-sim=yes', '--branch-sim=yes'];

/** Sums a callgrind dump's threads (`<out>.<dump>-<thread>` files): events per review, and the main thread's (01) instructions as `Ir main`. */
async function callgrindEvents(out: string, reviews: number): Promise<Record<string, number>> {
  const base = basename(out);
  const sums: Record<string, number> = {};
  for (const f of await readdir(dirname(out))) {
    const m = new RegExp(`^${base.replace(/[.]/g, '\\.')}\\.\\d+-(\\d+)$`).exec(f);
    if (!m) continue;
    const text = await readFile(join(dirname(out), f), 'utf8');
    const names = /^events: (.*)$/m.exec(text)?.[1]?.split(' ') ?? [];
    const counts = /^(?:summary|totals): (.*)$/m.exec(text)?.[1]?.split(' ').map(Number) ?? [];
    names.forEach((n, i) => (sums[n] = (sums[n] ?? 0) + (counts[i] ?? 0) / reviews));
    if (m[1] === '01') sums['Ir main'] = (counts[0] ?? 0) / reviews;
  }
  return sums;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const median = (xs: number[]): number => pct(xs, 50);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', multiple: true },
      pods: { type: 'string', default: '1' },
      reviews: { type: 'string', default: '10000' },
      warmup: { type: 'string', default: '3000' },
      rounds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '8' },
      rate: { type: 'string', default: '0' },
      'serve-args': { type: 'string', default: '' },
      'gc-log': { type: 'string' },
      idle: { type: 'string', default: '0.3' },
      callgrind: { type: 'string' },
      'cache-sim': { type: 'boolean', default: false },
    },
  });
  const variants = (values.variant ?? [`now=${join(ROOT, 'dist/bundle/main.cjs')}`]).map((v) => {
    // label=[node flags...] path/to/main.cjs[ serve args...]
    const eq = v.indexOf('=');
    const words = v.slice(eq + 1).split(' ').filter(Boolean);
    const at = words.findIndex((w) => !w.startsWith('-'));
    if (at < 0) throw new Error(`--variant ${v}: no path to main.cjs`);
    return { label: v.slice(0, eq), nodeFlags: words.slice(0, at), cli: resolve(words[at]!), args: words.slice(at + 1) };
  });
  const [pods, reviews, warmup, rounds, connections, rate] = ['pods', 'reviews', 'warmup', 'rounds', 'connections', 'rate'].map((k) => Number(values[k as 'pods']));
  const node = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim();
  const jemalloc = await hostJemalloc();
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-review-gc-'));
  const gcLog = values['gc-log'];
  if (gcLog !== undefined) await mkdir(gcLog, { recursive: true });
  if (values.callgrind !== undefined) await mkdir(values.callgrind, { recursive: true });
  const pems = await generateDevCerts({ hosts: ['localhost', '127.0.0.1'] });
  const files = await writeDevCerts(dir, pems);
  const set = pods! <= 1 ? (({ body, expected }) => ({ bodies: [body], expected: [expected] }))(benchReview()) : benchDistinctReviews(pods!);
  const results = new Map<string, Phase[]>();
  const loads: string[] = [loadavg().map((l) => l.toFixed(2)).join(' ')];
  try {
    for (let round = 0; round < rounds!; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const port = await freePort();
        const logFile = join(dir, `${v.label}-${round}.log`);
        const log = await open(logFile, 'w');
        // --callgrind DIR: serve under valgrind, its dumps kept in DIR (callgrind_annotate reads them).
        const cgOut = values.callgrind === undefined ? undefined : join(resolve(values.callgrind), `${v.label}-${round + 1}.callgrind`);
        const spawned = performance.now();
        const child: ChildProcess = spawn(
          cgOut === undefined ? node : 'valgrind',
          [...(cgOut === undefined ? [] : [...CALLGRIND, ...(values['cache-sim'] ? CACHE_SIM : []), `--callgrind-out-file=${cgOut}`, node]),
            ...IMAGE_NODE_FLAGS, '--trace-gc-nvp', '--trace-memory-reducer', ...v.nodeFlags, v.cli, 'serve', '--port', String(port), '--metrics-port', '0', '--tls-cert', files.tlsCert, '--tls-key', files.tlsKey, ...values['serve-args']!.split(' ').filter(Boolean), ...v.args],
          { env: { ...process.env, ...imageNodeEnv(jemalloc), WS_DRAIN_NAMESPACE_SOURCE: 'none' }, stdio: ['ignore', log.fd, log.fd] },
        );
        const agent = new Agent({ keepAlive: true, maxSockets: connections! });
        let exit: string | undefined;
        const exited = new Promise<void>((r) =>
          child.once('exit', (code, signal) => {
            exit = `exited (${signal ?? code})`;
            r();
          }),
        );
        try {
          for (let t = 0; ; t++) {
            try {
              await drive(port, pems.caCert, agent, set.bodies, set.expected, 1, 1, 0, 0);
              await assertPreloaded(child.pid!, jemalloc);
              break;
            } catch (err) {
              if (t > (cgOut === undefined ? 200 : 2400)) throw err;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
          await drive(port, pems.caCert, agent, set.bodies, set.expected, warmup!, connections!, 0, 1);
          // --idle: as bench/admission.ts leaves a server while the other targets take their turns.
          await new Promise((r) => setTimeout(r, Number(values.idle) * 1000));
          const from = (await readFile(logFile)).length;
          const callgrind = (flag: string): Promise<unknown> => promisify(execFile)('callgrind_control', [flag, String(child.pid)]);
          if (cgOut !== undefined) {
            await callgrind('--instr=on');
            await callgrind('--zero');
          }
          const cpu0 = await cpuTicks(child.pid!);
          const main0 = await mainCpuTicks(child.pid!);
          const { lat, fromSent, late } = await drive(port, pems.caCert, agent, set.bodies, set.expected, reviews!, connections!, rate!, warmup! + 1);
          const cpu1 = await cpuTicks(child.pid!);
          const main1 = await mainCpuTicks(child.pid!);
          if (cgOut !== undefined) await callgrind('--dump');
          const rss = await rssMiB(child.pid!);
          const trace = (await readFile(logFile)).subarray(from).toString();
          const gcs = gcLines(trace);
          const mcs = gcs.filter((g) => g.kind !== 's');
          const per10k = (count: number): number => (count * 10_000) / reviews!;
          const max = (xs: Gc[]): number => Math.max(0, ...xs.map((g) => g.pause));
          const phase: Phase = {
            allocatedPerReview: gcs.reduce((s, g) => s + g.allocated, 0) / reviews!,
            scavenges: per10k(gcs.length - mcs.length),
            markCompacts: per10k(mcs.length),
            reducerMarkCompacts: per10k(mcs.filter((g) => g.reducer).length),
            gcPauseMs: gcs.reduce((s, g) => s + g.pause, 0),
            maxScavengeMs: max(gcs.filter((g) => g.kind === 's')),
            maxMarkCompactMs: max(mcs),
            semiSpaceMiB: (gcs.at(-1)?.semiSpace ?? NaN) / 2 ** 20,
            cpuUs: ((cpu1 - cpu0) * 10_000) / reviews!,
            mainCpuUs: ((main1 - main0) * 10_000) / reviews!,
            handlerUs: median([...trace.matchAll(/"durationMs":([\d.]+)/g)].map((m) => Number(m[1]) * 1000)),
            rssMiB: rss,
            p50: median(lat),
            p99: pct(lat, 99),
            sendLateP99: late.length > 0 ? pct(late, 99) : NaN,
            p99FromSent: pct(fromSent, 99),
            events: cgOut === undefined ? {} : await callgrindEvents(cgOut, reviews!),
          };
          if (gcLog !== undefined) {
            await writeFile(join(gcLog, `${v.label}-${round + 1}.log`), await readFile(logFile));
            const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
            for (const g of mcs) process.stderr.write(`  ${v.label} mark-compact at ${(g.at / 1000).toFixed(1)} s: ${g.reducer ? 'memory reducer' : 'allocation limit'}, pause ${g.pause} ms, heap ${mb(g.before)} -> ${mb(g.after)} MiB\n`);
          }
          results.set(v.label, [...(results.get(v.label) ?? []), phase]);
          process.stderr.write(`round ${round + 1} ${v.label}: ${JSON.stringify(phase)}\n`);
        } catch (err) {
          // Say whether the server died, and what it last said (its GC trace left out).
          const said = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l !== '' && !/ pause=| Memory reducer/.test(l));
          const answered = said.filter((l) => l.includes('"msg":"admission"')).length;
          const metricsPort = metricsPortFromLog(said.join('\n'));
          // The connections it closed itself, by reason (a reset the client saw is one of them, or a crash).
          const metrics = exit !== undefined || metricsPort === undefined ? '' : await scrapeMetrics(metricsPort);
          const closed = metrics.split('\n').filter((l) => l.startsWith('ws_drain_connections_closed_total')).join('; ') || 'none counted';
          const last = said.filter((l) => !l.includes('"msg":"admission"')).slice(-20);
          const after = `${answered} answers, ${((performance.now() - spawned) / 1000).toFixed(1)} s after spawn`;
          throw new Error(`${v.label}, round ${round + 1}: ${(err as Error).message} after ${after}; the server ${exit ?? 'was still running'}; connections it closed: ${closed}; its last lines:\n${last.join('\n')}`, { cause: err });
        } finally {
          agent.destroy();
          child.kill('SIGTERM');
          await exited;
          await log.close();
        }
      }
      loads.push(loadavg().map((l) => l.toFixed(2)).join(' '));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const fmt = (label: string, f: (p: Phase) => number, digits = 0) => `${label.padEnd(34)} ${variants.map((v) => median(results.get(v.label)!.map(f)).toFixed(digits).padStart(12)).join(' ')}`;
  process.stdout.write(
    [
      `review-gc: ${pods} pod(s), ${reviews} reviews per phase after ${warmup}, ${connections} connections, ${rate === 0 ? 'closed loop' : `paced ${rate}/s`}, ${rounds} rounds interleaved; medians`,
      `load average per round: ${loads.join(' / ')}`,
      `${''.padEnd(34)} ${variants.map((v) => v.label.padStart(12)).join(' ')}`,
      fmt('heap bytes allocated per review', (p) => p.allocatedPerReview),
      fmt('scavenges per 10k reviews', (p) => p.scavenges, 1),
      fmt('mark-compacts per 10k reviews', (p) => p.markCompacts, 1),
      fmt('  of them by the memory reducer', (p) => p.reducerMarkCompacts, 1),
      fmt('GC pause ms per 10k reviews', (p) => (p.gcPauseMs * 10_000) / reviews!, 1),
      fmt('longest scavenge pause ms', (p) => p.maxScavengeMs, 1),
      fmt('longest mark-compact pause ms', (p) => p.maxMarkCompactMs, 1),
      fmt('semi-space MiB at the end', (p) => p.semiSpaceMiB, 1),
      fmt('server CPU µs per review', (p) => p.cpuUs),
      fmt('  of it the main thread', (p) => p.mainCpuUs),
      fmt('handler µs, median (log durationMs)', (p) => p.handlerUs),
      fmt('RSS MiB at the end', (p) => p.rssMiB, 1),
      fmt('p50 ms (from intended send)', (p) => p.p50, 2),
      fmt('p99 ms (from intended send)', (p) => p.p99, 2),
      ...Object.keys(results.get(variants[0]!.label)![0]!.events).map((e) => fmt(`${e} per review (callgrind)`, (p) => p.events[e] ?? NaN)),
      ...(rate === 0 ? [] : [fmt('p99 ms from the actual send', (p) => p.p99FromSent, 2), fmt('generator sent late, p99 ms', (p) => p.sendLateP99, 2)]),
      '',
    ].join('\n'),
  );
}

await main();
