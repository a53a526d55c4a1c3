// Admission throughput and latency: the real webhook against a bare Node https
// server that answers the same AdmissionReview bytes without any work (the floor).
//
//   npx tsx bench/admission.ts [--duration 10] [--connections 200] [--rate 500] [--log-level info] [--breakdown]
//
// --breakdown adds saturation rows for servers between the floor and the webhook,
// to show where the webhook's CPU per request goes: the floor plus a fixed 10 µs
// busy loop (what any per-request work costs here), plus JSON.parse of the body,
// plus the whole admission (envelope, core, serialisation) without log or metrics.
//
// Each server runs in its own process (via the real CLI for the webhook), so the
// load generator (autocannon, this process) never shares their event loop.
// Two phases per server, both with keep-alive TLS connections:
//   saturation  autocannon as fast as the server answers: requests/s. Closed loop, so its
//               latency is just connections / throughput (Little's law), not a property of the server.
//   paced       --rate requests/s at even intervals spread over --connections open keep-alive
//               connections (open loop, latency measured from the intended send time, µs
//               resolution): the latency an API server sees. autocannon's own rate limiter
//               fires every connection at each second boundary, which measures the burst, not the server.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../src/server/admission.js';
import { admissionReview } from '../test/server/review-fixtures.js';

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
    label: 'webhook without log/metrics',
    work: (body) => {
      const parsed = parseAdmissionReview(JSON.parse(body.toString('utf8')));
      if (!parsed.ok) throw new Error(parsed.error);
      return serializeReview(admit(parsed.review, DEFAULT_CONFIG).review);
    },
  },
};

/** The floor plus one stage of the webhook's work (--breakdown). */
async function runStage(stage: string, port: number, certFile: string, keyFile: string, responseFile: string): Promise<void> {
  const work = STAGES[stage]?.work;
  if (!work) throw new Error(`unknown stage ${stage}`);
  const [cert, key, response] = await Promise.all([readFile(certFile), readFile(keyFile), readFile(responseFile)]);
  const server = createHttpsServer({ cert, key, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Readiness probes (GET /healthz) get the fixed bytes; only the benchmark's POSTs do the work.
      const out = (req.method === 'POST' ? work(Buffer.concat(chunks)) : undefined) ?? response;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(out)) });
      res.end(out);
    });
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

/** The floor: read the whole body (as the webhook must), answer fixed bytes. */
async function runFloor(port: number, certFile: string, keyFile: string, responseFile: string): Promise<void> {
  const [cert, key, response] = await Promise.all([readFile(certFile), readFile(keyFile), readFile(responseFile)]);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(response.length) };
  const server = createHttpsServer({ cert, key, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000 }, (req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end(response);
    });
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitReady(port: number, ca: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
        .on('error', () => resolve(false))
        .end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on port ${port} did not become ready`);
}

/** CPU seconds (user + system) a process has used so far; /proc ticks are 10 ms. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Row {
  target: string;
  phase: string;
  rps: number;
  /** Server CPU per answered request: independent of how busy the rest of the machine is. */
  cpuUsPerRequest: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  requests: number;
}

async function load(target: string, pid: number, phase: string, url: string, body: string, expected: string, opts: { connections: number; duration: number }): Promise<Row> {
  const cpuBefore = await cpuSeconds(pid);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: opts.connections,
    duration: opts.duration,
    pipelining: 1,
    // Every answer must be the exact expected AdmissionReview; anything else counts as an error.
    expectBody: expected,
  });
  const cpu = (await cpuSeconds(pid)) - cpuBefore;
  return {
    target,
    phase,
    rps: result.requests.average,
    cpuUsPerRequest: result.requests.total > 0 ? (cpu / result.requests.total) * 1e6 : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0),
    requests: result.requests.total,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Open-loop load at a fixed rate over a pool of keep-alive connections used round-robin. */
async function paced(target: string, pid: number, url: string, ca: string, body: string, expected: string, opts: { connections: number; duration: number; rate: number }): Promise<Row> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections, ca, scheduling: 'fifo' });
  const { hostname, port, pathname } = new URL(url);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  const latencies: number[] = [];
  let errors = 0;
  const send = (intended: bigint) =>
    new Promise<void>((resolve) => {
      const req = httpsRequest({ host: hostname, port, path: pathname, method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - intended) / 1e6);
          if (res.statusCode !== 200 || Buffer.concat(chunks).toString() !== expected) errors += 1;
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
  await Promise.all(Array.from({ length: opts.connections }, () => send(process.hrtime.bigint())));
  latencies.length = 0;
  errors = 0;

  const cpuBefore = await cpuSeconds(pid);
  const intervalNs = BigInt(Math.round(1e9 / opts.rate));
  const start = process.hrtime.bigint();
  const total = opts.rate * opts.duration;
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Number((process.hrtime.bigint() - start) / intervalNs) + 1);
    for (; sent < due; sent++) pending.push(send(start + BigInt(sent) * intervalNs));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = (await cpuSeconds(pid)) - cpuBefore;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    target,
    phase: `paced ${opts.rate} req/s`,
    rps: latencies.length / elapsed,
    cpuUsPerRequest: (cpu / Math.max(1, latencies.length)) * 1e6,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    p999: round(percentile(sorted, 99.9)),
    errors,
    requests: latencies.length,
  };
}

function table(rows: Row[]): string {
  const head = ['target', 'phase', 'req/s', 'server CPU µs/req', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'requests'];
  const data = rows.map((r) => [r.target, r.phase, r.rps.toFixed(0), r.cpuUsPerRequest.toFixed(0), String(r.p50), String(r.p99), String(r.p999), String(r.errors), String(r.requests)]);
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...data.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '200' },
      rate: { type: 'string', default: '500' },
      'log-level': { type: 'string', default: 'info' },
      breakdown: { type: 'boolean', default: false },
    },
  });
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const rate = Number(values.rate);
  for (const [name, n] of Object.entries({ duration, warmup, connections, rate })) {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive whole number`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-bench-'));
  const children: ChildProcess[] = [];
  try {
    const pems = await generateDevCerts({ hosts: ['localhost'] });
    const files = await writeDevCerts(dir, pems);

    // A realistic request: a ReplicaSet creating an opted-in pod with three containers.
    const review = admissionReview();
    const body = JSON.stringify(review);
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    const expected = JSON.stringify(admit(parsed.review, DEFAULT_CONFIG).review);
    const responseFile = join(dir, 'response.json');
    await writeFile(responseFile, expected);

    const [webhookPort, metricsPort, floorPort] = [await freePort(), await freePort(), await freePort()];
    const tsx = ['--import', 'tsx'];
    // The webhook logs one JSON line per admission: to a file, as a container's stdout would be.
    const log = await open(join(dir, 'webhook.log'), 'w');
    const webhook = spawn(
      process.execPath,
      [...tsx, join(ROOT, 'src/cli/main.ts'), 'serve', '--port', String(webhookPort), '--metrics-port', String(metricsPort), '--tls-cert', files.tlsCert, '--tls-key', files.tlsKey, '--log-level', values['log-level']!],
      { cwd: ROOT, stdio: ['ignore', log.fd, 'inherit'] },
    );
    children.push(webhook);
    const floor = spawn(process.execPath, [...tsx, SELF, '--floor', String(floorPort), files.tlsCert, files.tlsKey, responseFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(floor);
    await Promise.all([waitReady(webhookPort, pems.caCert, webhook), waitReady(floorPort, pems.caCert, floor)]);

    const targets = [
      { name: 'floor', pid: floor.pid!, url: `https://127.0.0.1:${floorPort}/mutate` },
      { name: 'webhook', pid: webhook.pid!, url: `https://127.0.0.1:${webhookPort}/mutate` },
    ];
    // --breakdown: the in-between servers, saturation phase only.
    const stages: Array<{ name: string; pid: number; url: string }> = [];
    if (values.breakdown) {
      for (const [stage, { label }] of Object.entries(STAGES)) {
        const port = await freePort();
        const child = spawn(process.execPath, [...tsx, SELF, '--stage', stage, String(port), files.tlsCert, files.tlsKey, responseFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
        children.push(child);
        await waitReady(port, pems.caCert, child);
        stages.push({ name: label, pid: child.pid!, url: `https://127.0.0.1:${port}/mutate` });
      }
    }
    process.stderr.write(`warming up ${warmup}s each ...\n`);
    for (const t of [...targets, ...stages]) await load(t.name, t.pid, 'warmup', t.url, body, expected, { connections, duration: warmup });
    const rows: Row[] = [];
    for (const t of [...targets, ...stages]) {
      process.stderr.write(`${t.name}: saturation, ${connections} connections, ${duration}s ...\n`);
      rows.push(await load(t.name, t.pid, 'saturation', t.url, body, expected, { connections, duration }));
    }
    for (const t of targets) {
      process.stderr.write(`${t.name}: paced ${rate} req/s over ${connections} connections, ${duration}s ...\n`);
      rows.push(await paced(t.name, t.pid, t.url, pems.caCert, body, expected, { connections, duration, rate }));
    }

    const sat = (name: string) => rows.find((r) => r.target === name && r.phase === 'saturation')!;
    const ratio = sat('webhook').rps / sat('floor').rps;
    const cpuRatio = sat('floor').cpuUsPerRequest / sat('webhook').cpuUsPerRequest;
    const fixed = rows.find((r) => r.target === 'webhook' && r.phase !== 'saturation')!;
    const out = [
      `ws-drain admission benchmark: ${connections} keep-alive TLS connections, ${duration}s per phase, request ${body.length} B, response ${expected.length} B, webhook --log-level ${values['log-level']}`,
      `machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (saturation latencies: autocannon, 1 ms resolution)`,
      '',
      table(rows),
      '',
      `throughput ratio webhook/floor: ${ratio.toFixed(2)} (target >= 0.80)  ${ratio >= 0.8 ? 'MET' : 'MISSED'}`,
      `CPU-per-request ratio floor/webhook: ${cpuRatio.toFixed(2)} (the throughput ratio on an otherwise idle machine, when both are CPU-bound)`,
      `webhook p99 at ${rate} req/s paced over ${connections} connections: ${fixed.p99} ms (target < 5 ms)  ${fixed.p99 < 5 && fixed.errors === 0 ? 'MET' : 'MISSED'}`,
    ].join('\n');
    process.stdout.write(`${out}\n`);
    await mkdir(join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(join(ROOT, 'bench/results', `admission-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ connections, duration, rate, logLevel: values['log-level'], ratio, cpuRatio, rows, loadavg: loadavg() }, null, 2));
    await log.close();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--stage') {
  const [stage, port, cert, key, response] = process.argv.slice(3);
  await runStage(stage!, Number(port), cert!, key!, response!);
} else if (process.argv[2] === '--floor') {
  const [port, cert, key, response] = process.argv.slice(3);
  await runFloor(Number(port), cert!, key!, response!);
} else {
  await main();
}
