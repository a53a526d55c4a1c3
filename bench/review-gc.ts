// What one review allocates, and the GC it causes: serve as the image runs it
// (the bundle, the image's Node release, flags and environment, default
// logging) under V8's --trace-gc-nvp, driven over keep-alive TLS 1.3
// connections; per variant, rounds interleaved:
//   heap bytes allocated per review (the sum of V8's `allocated=` over the
//   phase's collections, over its reviews), scavenges and mark-compacts per
//   10,000 reviews, server CPU µs per review (/proc/<pid>/stat), and with
//   --rate the latency from each review's intended send time (p50, p99).
//
//   npx tsx bench/review-gc.ts --variant now=dist/bundle/main.cjs --variant 'off=dist/bundle/main.cjs --answer-cache-size 0'
//   options: --pods N (1: one pod again and again; N > 256: every review an answer-cache miss)
//            --reviews N --warmup N --rounds N --connections N --rate R (0: closed loop) --serve-args "..."
//
// Complements bench/admission.ts (CPU per review against agnhost, RSS, cold
// start), which cannot see the heap: this is the bench for allocation work.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';
import { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS, freePort } from '../scripts/bundle.js';
import { benchDistinctReviews, benchReview } from './review.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

interface Phase {
  allocatedPerReview: number;
  scavenges: number;
  markCompacts: number;
  gcPauseMs: number;
  cpuUs: number;
  p50: number;
  p99: number;
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** `n` reviews over `agent`'s connections: closed loop (rate 0) or paced at `rate`/s; latencies in ms from each intended send. */
async function drive(port: number, ca: string, agent: Agent, bodies: string[], expected: string[], n: number, connections: number, rate: number, start: number): Promise<number[]> {
  const lat: number[] = [];
  let next = start;
  const one = (i: number, intended: number): Promise<void> =>
    new Promise((done, fail) => {
      const k = i % bodies.length;
      const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, agent, ...TLS13, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 || text !== expected[k]) return fail(new Error(`review ${k}: ${res.statusCode} ${text.slice(0, 200)}`));
          lat.push(performance.now() - intended);
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
    return lat;
  }
  const t0 = performance.now() + 5;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const intended = t0 + (i * 1000) / rate;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
    while (performance.now() < intended);
    pending.push(one(start + i, intended));
  }
  await Promise.all(pending);
  return lat;
}

function gcLines(text: string): Array<{ kind: string; allocated: number; pause: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    const m = / pause=([\d.]+) .*gc=(\w+) .* allocated=(\d+) /.exec(line);
    if (m) out.push({ pause: Number(m[1]), kind: m[2]!, allocated: Number(m[3]) });
  }
  return out;
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
    },
  });
  const variants = (values.variant ?? [`now=${join(ROOT, 'dist/bundle/main.cjs')}`]).map((v) => {
    // label=path/to/main.cjs[ serve args...]
    const eq = v.indexOf('=');
    const [cli, ...args] = v.slice(eq + 1).split(' ');
    return { label: v.slice(0, eq), cli: resolve(cli!), args };
  });
  const [pods, reviews, warmup, rounds, connections, rate] = ['pods', 'reviews', 'warmup', 'rounds', 'connections', 'rate'].map((k) => Number(values[k as 'pods']));
  const node = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-review-gc-'));
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
        const child: ChildProcess = spawn(
          node,
          [...IMAGE_NODE_FLAGS, '--trace-gc-nvp', v.cli, 'serve', '--port', String(port), '--metrics-port', '0', '--tls-cert', files.tlsCert, '--tls-key', files.tlsKey, ...values['serve-args']!.split(' ').filter(Boolean), ...v.args],
          { env: { ...process.env, ...IMAGE_NODE_ENV, WS_DRAIN_NAMESPACE_SOURCE: 'none' }, stdio: ['ignore', log.fd, log.fd] },
        );
        const agent = new Agent({ keepAlive: true, maxSockets: connections! });
        try {
          for (let t = 0; ; t++) {
            try {
              await drive(port, pems.caCert, agent, set.bodies, set.expected, 1, 1, 0, 0);
              break;
            } catch (err) {
              if (t > 200) throw err;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
          await drive(port, pems.caCert, agent, set.bodies, set.expected, warmup!, connections!, 0, 1);
          await new Promise((r) => setTimeout(r, 300));
          const from = (await readFile(logFile)).length;
          const cpu0 = await cpuTicks(child.pid!);
          const lat = await drive(port, pems.caCert, agent, set.bodies, set.expected, reviews!, connections!, rate!, warmup! + 1);
          const cpu1 = await cpuTicks(child.pid!);
          const gcs = gcLines((await readFile(logFile)).subarray(from).toString());
          const phase: Phase = {
            allocatedPerReview: gcs.reduce((s, g) => s + g.allocated, 0) / reviews!,
            scavenges: (gcs.filter((g) => g.kind === 's').length * 10_000) / reviews!,
            markCompacts: (gcs.filter((g) => g.kind !== 's').length * 10_000) / reviews!,
            gcPauseMs: gcs.reduce((s, g) => s + g.pause, 0),
            cpuUs: ((cpu1 - cpu0) * 10_000) / reviews!,
            p50: median(lat),
            p99: pct(lat, 99),
          };
          results.set(v.label, [...(results.get(v.label) ?? []), phase]);
          process.stderr.write(`round ${round + 1} ${v.label}: ${JSON.stringify(phase)}\n`);
        } finally {
          agent.destroy();
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
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
      fmt('GC pause ms per 10k reviews', (p) => (p.gcPauseMs * 10_000) / reviews!, 1),
      fmt('server CPU µs per review', (p) => p.cpuUs),
      fmt('p50 ms (from intended send)', (p) => p.p50, 2),
      fmt('p99 ms (from intended send)', (p) => p.p99, 2),
      '',
    ].join('\n'),
  );
}

await main();
