// The request every benchmark sends and the answer it must get back: a
// ReplicaSet creating an opted-in pod with three containers, answered by the
// same core the webhook runs (so a server that answers wrongly is caught).
import { execFile, spawn } from 'node:child_process';
import { readSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { decide, DEFAULT_CONFIG } from '../src/core/index.js';
import { isPod } from '../src/core/pod-schema.js';
import { admit, answerReview, envelope, parseAdmissionReview, responseFor, serializeReview } from '../src/server/admission.js';
import { parseReviewBody } from '../src/server/review-routes.js';
import { admissionReview, optedInPod } from '../test/server/review-fixtures.js';

export function benchReview(): { body: string; uid: string; expected: string } {
  const body = JSON.stringify(admissionReview());
  const parsed = parseAdmissionReview(JSON.parse(body));
  if (!parsed.ok) throw new Error(parsed.error);
  return { body, uid: parsed.review.request.uid, expected: serializeReview(admit(parsed.review, DEFAULT_CONFIG).review) };
}

/**
 * `n` different pods, as the ReplicaSets of `n` Deployments would create them:
 * the bench's pod with its own name prefix, pod-template-hash, owner and image
 * tag (the same size, within a few bytes), each with the core's answer. What an
 * admission cache cannot help with: no two alike.
 */
export function benchDistinctReviews(n: number): { bodies: string[]; expected: string[] } {
  const bodies: string[] = [];
  const expected: string[] = [];
  for (let i = 0; i < n; i++) {
    const hash = (0x7d9f8b6c4 + i * 7919).toString(16).slice(-9);
    const pod = optedInPod();
    const meta = pod['metadata'] as { generateName: string; labels: Record<string, string>; ownerReferences: Array<{ name: string }> };
    meta.generateName = `chat-${hash}-`;
    meta.labels['pod-template-hash'] = hash;
    meta.ownerReferences[0]!.name = `chat-${hash}`;
    (pod['spec'] as { containers: Array<{ image: string }> }).containers[0]!.image = `registry.example.com/chat:1.4.${i}`;
    const body = JSON.stringify(admissionReview({ object: pod }));
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    bodies.push(body);
    expected.push(serializeReview(admit(parsed.review, DEFAULT_CONFIG).review));
  }
  return { bodies, expected };
}

// ---------------------------------------------------------------------------
// The computed answer's cost, without HTTP, log or metrics: what the webhook
// executes for a review the answer cache cannot help with (a pod that never
// repeats), stage by stage, over benchDistinctReviews' pods in turn.
//
//   npx tsx bench/review.ts                 µs per review per stage and KiB allocated (medians of rounds)
//   npx tsx bench/review.ts --callgrind     instructions per review of the whole path, under valgrind (V8 single-threaded)
//   npx tsx bench/review.ts --callgrind --cache-sim   and callgrind's simulated cache misses and branch mispredicts per review
//   npx tsx bench/review.ts --callgrind --warmup 40000  counted after 40,000 reviews (uninstrumented until then) instead of 3 × pods
//   npx tsx bench/review.ts --deopts        V8's deoptimisations and compilations along --reviews of the whole path, per 5,000
//   npx tsx bench/review.ts --cold          each stage warm (back to back) and cold (the CPU's caches evicted before
//                                           each review: 64 MiB written, past this machine's 32 MiB L3), µs per
//                                           review in interleaved rounds (--reviews 300 a round)
//   VALGRIND_OPTS=--LL=1048576,8,64 npx tsx bench/review.ts --cold --callgrind --reviews 500 [--keep DIR]
//                                           per stage, warm and cold (4 MiB written): instructions and simulated
//                                           L2 (LL) misses per review, the eviction's own counted alone and taken
//                                           off; with DIR, the whole path's cold misses by kind and function (JIT
//                                           code named from V8's --perf-basic-prof map), the dumps kept in DIR
//   npx tsx bench/review.ts --annotate DIR --reviews 500   that attribution again from DIR
//   options: --reviews N (per round) --rounds N --pods N --evict-mib N (cold means after writing N MiB)
//            --node-flags='…' (V8 or Node flags after the image's: to measure one)
//
// Cold is how a review meets the CPU when paced: alone, after ~5 ms of other
// work or idle, the path's code and data fetched from memory again (natively
// cold − warm with 64 MiB is about what a paced review costs the server over
// one at saturation; with 4 MiB, the L3 still holds them: a fraction). The
// eviction writes a word per 64-byte line (not Buffer.fill: its memset's `rep
// stosb` is one simulated instruction and access per byte); it is outside the
// timed span natively and subtracted under callgrind. Callgrind's I1 is not
// inclusive, so code the eviction left in the simulated I1 still hits: its
// cold counts are a floor (close for the whole path, whose code is far larger).
//
// The loop runs as the image runs the webhook: this file bundled by esbuild (not
// through tsx, whose names wrapper costs in the hot functions), on the image's
// Node release (tools/nodejs/run.sh) with the image's V8 flags. The stages are
// timed with process.cpuUsage in interleaved rounds; callgrind's counts (every
// thread: the compilers and GC included) hardly depend on the machine's load.

/** Each stage of the computed path, on input the previous stage made once. */
function stages(pods: number): Array<{ name: string; run: (i: number) => unknown }> {
  const { bodies } = benchDistinctReviews(pods);
  const raws = bodies.map((b) => Buffer.from(b));
  const objects = bodies.map((b) => JSON.parse(b) as unknown);
  const reviews = objects.map((o) => {
    const p = parseAdmissionReview(o);
    if (!p.ok) throw new Error(p.error);
    return p.review;
  });
  const pod = (i: number): unknown => reviews[i % pods]!.request.object;
  const decisions = reviews.map((r) => decide(r.request.object, 'apps', DEFAULT_CONFIG));
  return [
    { name: 'whole: body → answer text', run: (i) => wholePath(raws[i % pods]!) },
    { name: 'JSON.parse of the body', run: (i) => JSON.parse(raws[i % pods]!.toString('utf8')) },
    { name: 'envelope (zod)', run: (i) => parseAdmissionReview(objects[i % pods]) },
    { name: 'decide (the core)', run: (i) => decide(pod(i), 'apps', DEFAULT_CONFIG) },
    { name: '  of it: isPod (zod)', run: (i) => isPod(pod(i)) },
    { name: 'answer: patch JSON, base64', run: (i) => responseFor(reviews[i % pods]!.request.uid, decisions[i % pods]!) },
    { name: 'answer: review JSON', run: (i) => serializeReview(envelope(responseFor('u', decisions[i % pods]!).response)) },
  ];
}

/** What serve does on an answer-cache miss, between the body's bytes and the answer's text. */
function wholePath(raw: Buffer): string {
  const parsed = parseReviewBody(raw);
  if (!parsed.ok) throw new Error(parsed.error);
  return answerReview(parsed.review, DEFAULT_CONFIG).body;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Bytes allocated per call: heap growth over batches in which no GC ran (a GC event discards the batch). */
function allocatedPerCall(run: (i: number) => unknown, batches: number): number {
  let collected = 0;
  const observer = new PerformanceObserver((list) => (collected += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  const perCall: number[] = [];
  const BATCH = 20;
  for (let b = 0; b < batches; b++) {
    const gcBefore = collected;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < BATCH; i++) run(b * BATCH + i);
    const after = process.memoryUsage().heapUsed;
    if (collected === gcBefore && after > before) perCall.push((after - before) / BATCH);
  }
  observer.disconnect();
  return median(perCall);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Runs in the bundled child: the table on stdout as JSON. */
function measureStages(reviews: number, rounds: number, pods: number): void {
  const all = stages(pods);
  // Warm: V8 keeps optimising (and deoptimising) the path for some 40,000 reviews.
  for (let i = 0; i < 40_000; i++) all[0]!.run(i);
  for (const s of all) for (let i = 0; i < 3 * pods; i++) s.run(i);
  const micros = new Map<string, number[]>(all.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const s of all) {
      const t = cpuMicros();
      for (let i = 0; i < reviews; i++) s.run(i);
      micros.get(s.name)!.push((cpuMicros() - t) / reviews);
    }
  }
  const rows = all.map((s) => ({ stage: s.name, us: median(micros.get(s.name)!), kib: allocatedPerCall(s.run, 200) / 1024 }));
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

/** Writes a word in every 64-byte line of `mib` MiB: the path's code and data leave the caches that size. */
function evictor(mib: number): () => void {
  const words = new Int32Array(mib << 18);
  let value = 0;
  return () => {
    value++;
    for (let i = 0; i < words.length; i += 16) words[i] = value;
  };
}

/** Runs in the bundled child: each stage warm and cold, alternating which goes first, µs per review as JSON. */
function measureCold(reviews: number, rounds: number, pods: number, mib: number): void {
  const all = stages(pods);
  for (let i = 0; i < 40_000; i++) all[0]!.run(i);
  for (const s of all) for (let i = 0; i < 3 * pods; i++) s.run(i);
  const evict = evictor(mib);
  const times = new Map<string, { warm: number[]; cold: number[] }>(all.map((s) => [s.name, { warm: [], cold: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const s of all) {
      for (const cold of r % 2 === 0 ? [false, true] : [true, false]) {
        let ns = 0n;
        for (let i = 0; i < reviews; i++) {
          if (cold) evict();
          const t = process.hrtime.bigint();
          s.run(i);
          ns += process.hrtime.bigint() - t;
        }
        times.get(s.name)![cold ? 'cold' : 'warm'].push(Number(ns) / reviews / 1000);
      }
    }
  }
  const rows = all.map((s) => ({ stage: s.name, warm: median(times.get(s.name)!.warm), cold: median(times.get(s.name)!.cold) }));
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

/** Runs in the bundled child under callgrind: per stage a dump of `reviews` warm, one cold; then one of the evictions alone. */
function callgrindColdLoop(reviews: number, pods: number, warmup: number, mib: number): void {
  const all = stages(pods);
  for (let i = 0; i < warmup; i++) all[0]!.run(i);
  for (const s of all) for (let i = 0; i < pods; i++) s.run(i);
  const evict = evictor(mib);
  for (let i = 0; i < 50; i++) evict(); // optimised before counting: the evictions alone then run the same code
  handshake('warm');
  for (const s of all) {
    for (let i = 0; i < reviews; i++) s.run(i);
    handshake('dump');
    for (let i = 0; i < reviews; i++) {
      evict();
      s.run(i);
    }
    handshake('dump');
  }
  for (let i = 0; i < reviews; i++) evict();
  handshake('done');
  process.stdout.write(`${JSON.stringify(all.map((s) => s.name))}\n`);
}

/** Tells the parent `line` and waits for its answer (sent once callgrind_control is done). */
function handshake(line: string): void {
  process.stdout.write(`${line}\n`);
  readSync(0, Buffer.alloc(1));
}

/** Runs in the bundled child under --trace-deopt and --trace-opt: the whole path from the first review, a mark every 5,000. */
function deoptLoop(reviews: number, pods: number): void {
  const whole = stages(pods)[0]!;
  for (let i = 0; i < reviews; i++) {
    whole.run(i);
    if ((i + 1) % DEOPT_WINDOW === 0) process.stdout.write(`@@reviews ${i + 1}\n`);
  }
}

const DEOPT_WINDOW = 5000;

/** Runs in the bundled child under callgrind: warm up, then tell the parent, which zeroes the counters; run; tell it again. */
function callgrindLoop(reviews: number, pods: number, warmup = 3 * pods): void {
  const whole = stages(pods)[0]!;
  for (let i = 0; i < warmup; i++) whole.run(i);
  handshake('warm');
  for (let i = 0; i < reviews; i++) whole.run(i);
  handshake('done');
}

export async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reviews: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      pods: { type: 'string', default: '1000' },
      callgrind: { type: 'boolean', default: false },
      deopts: { type: 'boolean', default: false },
      'cache-sim': { type: 'boolean', default: false },
      cold: { type: 'boolean', default: false },
      'evict-mib': { type: 'string' },
      keep: { type: 'string' },
      annotate: { type: 'string' },
      'node-flags': { type: 'string', default: '' },
      warmup: { type: 'string' },
      child: { type: 'string' },
    },
  });
  // Cold rounds are slower (each eviction ~3 ms natively), so fewer reviews by default.
  const reviews = Number(values.reviews ?? (values.cold ? (values.callgrind ? 500 : 300) : 20000));
  const pods = Number(values.pods);
  const mib = Number(values['evict-mib'] ?? (values.callgrind ? 4 : 64));
  if (values.child === 'stages') return measureStages(reviews, Number(values.rounds), pods);
  if (values.child === 'cold') return measureCold(reviews, Number(values.rounds), pods, mib);
  if (values.child === 'callgrind-cold') return callgrindColdLoop(reviews, pods, values.warmup === undefined ? 3 * pods : Number(values.warmup), mib);
  if (values.child === 'callgrind') return callgrindLoop(reviews, pods, values.warmup === undefined ? undefined : Number(values.warmup));
  if (values.child === 'deopts') return deoptLoop(reviews, pods);
  if (values.annotate !== undefined) return printColdMisses(values.annotate, reviews);

  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-review-'));
  try {
    const script = join(dir, 'review.cjs');
    // Bundled as scripts/bundle.ts bundles the CLI; the child runs main() with --child.
    const { build } = await import('esbuild');
    const { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS } = await import('../scripts/bundle.js');
    await build({
      stdin: { contents: "require('./review.ts').main();", resolveDir: join(root, 'bench'), loader: 'ts' },
      outfile: script, bundle: true, format: 'cjs', platform: 'node', target: 'node20', minifySyntax: true, logLevel: 'warning',
      external: ['esbuild', '../scripts/bundle.js'],
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(root, 'bench/review.ts')).href) },
    });
    const node = (await promisify(execFile)(join(root, 'tools/nodejs/run.sh'), ['--print'], { cwd: root })).stdout.trim();
    // --node-flags: V8 or Node flags after the image's, to measure one (not what the image runs).
    const args = [...IMAGE_NODE_FLAGS, ...values['node-flags'].split(' ').filter(Boolean), script, '--reviews', String(reviews), '--rounds', values.rounds, '--pods', String(pods), '--evict-mib', String(mib)];
    const env = { ...process.env, ...IMAGE_NODE_ENV };
    const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
    const loadBefore = load();
    if (values.callgrind && values.cold) {
      const warm = values.warmup === undefined ? [] : ['--warmup', values.warmup];
      if (values.keep !== undefined) await mkdir(values.keep, { recursive: true });
      // With --keep, V8 writes /tmp/perf-<pid>.map: the names of the JIT code's addresses in the dumps.
      const perfMap = values.keep === undefined ? [] : ['--perf-basic-prof'];
      const { dumps, stdout } = await callgrindDumps(node, ['--predictable', ...perfMap, ...args, '--child', 'callgrind-cold', ...warm], env, dir, true, values.warmup !== undefined, values.keep);
      const names = JSON.parse(stdout.at(-1)!) as string[];
      const evicting = dumps.at(-1)!;
      const per = (d: Record<string, number>, e: string, minus?: Record<string, number>): number => ((d[e] ?? 0) - (minus?.[e] ?? 0)) / reviews;
      const ll = (d: Record<string, number>, minus?: Record<string, number>): string =>
        `${fmt(per(d, 'Ir', minus) / 1000, 1)} k ${fmt(per(d, 'ILmr', minus))} ${fmt(per(d, 'DLmr', minus) + per(d, 'DLmw', minus))}`;
      console.log(`per review (callgrind, node --predictable, LL ${process.env['VALGRIND_OPTS'] ?? "callgrind's default"}; ${reviews} reviews of ${pods} pods per stage after ${values.warmup ?? 3 * pods}); cold: after writing ${mib} MiB, the writing's own counts (${fmt(per(evicting, 'Ir') / 1000, 1)} k instructions, ${fmt(per(evicting, 'ILmr'))} + ${fmt(per(evicting, 'DLmr') + per(evicting, 'DLmw'))} LL misses) taken off`);
      console.log(`${'stage'.padEnd(30)} ${'warm: instr, LL code, LL data misses'.padStart(38)} ${'cold: instr, LL code, LL data misses'.padStart(38)}`);
      names.forEach((name, i) => console.log(`${name.padEnd(30)} ${ll(dumps[2 * i]!).padStart(38)} ${ll(dumps[2 * i + 1]!, evicting).padStart(38)}`));
      if (values.keep !== undefined) await printColdMisses(values.keep, reviews);
    } else if (values.cold) {
      const out = (await promisify(execFile)(node, [...args, '--child', 'cold'], { env, maxBuffer: 1 << 20 })).stdout;
      const rows = JSON.parse(out) as Array<{ stage: string; warm: number; cold: number }>;
      console.log(`computed path, ${pods} distinct pods, ${values.rounds} rounds of ${reviews} (medians): warm back to back, cold after writing ${mib} MiB, node ${node}`);
      console.log(`${'stage'.padEnd(30)} ${'warm µs'.padStart(9)} ${'cold µs'.padStart(9)} ${'cold − warm'.padStart(12)}`);
      for (const r of rows) console.log(`${r.stage.padEnd(30)} ${r.warm.toFixed(2).padStart(9)} ${r.cold.toFixed(2).padStart(9)} ${(r.cold - r.warm).toFixed(2).padStart(12)}`);
    } else if (values.callgrind) {
      // V8's --predictable: its compilers and GC on the main thread, at reproducible points. With
      // them on background threads, the same code counted 384 k and 415 k on the main thread in two
      // runs: what it runs depends on when an optimised version lands, still often after this warm-up.
      const warm = values.warmup === undefined ? [] : ['--warmup', values.warmup];
      const { all, main, events } = await instructionsPerReview(node, ['--predictable', ...args, '--child', 'callgrind', ...warm], env, dir, values['cache-sim'], values.warmup !== undefined);
      const k = (n: number): string => `${(n / reviews / 1000).toFixed(1)} k`;
      console.log(`instructions per review (callgrind, node --predictable, ${reviews} reviews of ${pods} pods after ${values.warmup ?? 3 * pods} of warm-up): ${k(all)} (main thread ${k(main)})`);
      if (values['cache-sim']) console.log(`per review, every thread: ${Object.entries(events).map(([e, n]) => `${e} ${Math.round(n / reviews)}`).join(', ')}`);
    } else if (values.deopts) {
      const trace = ['--trace-deopt', '--trace-opt'];
      const out = (await promisify(execFile)(node, [...trace, ...args, '--child', 'deopts'], { env, maxBuffer: 1 << 28 })).stdout;
      console.log(`V8 along ${reviews} reviews of ${pods} pods (after the stages' set-up), node ${node}`);
      printDeopts(out);
    } else {
      const out = (await promisify(execFile)(node, [...args, '--child', 'stages'], { env, maxBuffer: 1 << 20 })).stdout;
      const rows = JSON.parse(out) as Array<{ stage: string; us: number; kib: number }>;
      console.log(`computed path, ${pods} distinct pods, ${values.rounds} rounds of ${reviews} (medians), node ${node}`);
      console.log(`${'stage'.padEnd(30)} ${'µs/review'.padStart(10)} ${'KiB alloc'.padStart(10)}`);
      for (const r of rows) console.log(`${r.stage.padEnd(30)} ${r.us.toFixed(2).padStart(10)} ${r.kib.toFixed(1).padStart(10)}`);
    }
    console.log(`load average ${loadBefore} → ${load()}, commit ${(await promisify(execFile)('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Per window of reviews: optimised compilations and deoptimisations; then the deoptimisations by function and reason. */
function printDeopts(trace: string): void {
  const windows: Array<{ upTo: string; turbofan: number; maglev: number; deopts: number }> = [];
  const byFunction = new Map<string, number>();
  let current = { upTo: '', turbofan: 0, maglev: 0, deopts: 0 };
  for (const line of trace.split('\n')) {
    if (line.startsWith('@@reviews ')) {
      windows.push({ ...current, upTo: line.slice('@@reviews '.length) });
      current = { upTo: '', turbofan: 0, maglev: 0, deopts: 0 };
    } else if (line.startsWith('[completed compiling')) {
      if (line.includes('(target TURBOFAN')) current.turbofan++;
      else current.maglev++;
    } else if (line.startsWith('[bailout (kind: deopt')) {
      current.deopts++;
      // "[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x… <JSFunction name (sfi = …)>, …"
      const m = /reason: (.*?)\): begin\. deoptimizing \S+ <JSFunction ([^\s(]*)/.exec(line);
      const key = `${m?.[2] || '(anonymous)'}: ${m?.[1] ?? '?'} (by review ${(windows.length + 1) * DEOPT_WINDOW})`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + 1);
    }
  }
  console.log(`${'reviews up to'.padEnd(14)} ${'TurboFan'.padStart(9)} ${'Maglev'.padStart(7)} ${'deopts'.padStart(7)}`);
  for (const w of windows) console.log(`${w.upTo.padEnd(14)} ${String(w.turbofan).padStart(9)} ${String(w.maglev).padStart(7)} ${String(w.deopts).padStart(7)}`);
  for (const [key, n] of byFunction) console.log(`  ${n} × ${key}`);
}

/** Counts the child's instructions between its two handshakes (callgrind_control --zero, then --dump), per thread. */
async function instructionsPerReview(node: string, args: string[], env: NodeJS.ProcessEnv, dir: string, cacheSim = false, instrAfterWarmup = false): Promise<{ all: number; main: number; events: Record<string, number> }> {
  const { dumps, mainIr } = await callgrindDumps(node, args, env, dir, cacheSim, instrAfterWarmup);
  return { all: dumps[0]!['Ir'] ?? 0, main: mainIr[0] ?? 0, events: dumps[0]! };
}

/**
 * Runs the child under callgrind: its 'warm' zeroes the counters, each 'dump'
 * and the last 'done' dump (and so zero) them. Per dump, the events summed
 * over threads, the main thread's instructions, and the child's other lines.
 */
async function callgrindDumps(node: string, args: string[], env: NodeJS.ProcessEnv, dir: string, cacheSim = false, instrAfterWarmup = false, keep?: string): Promise<{ dumps: Array<Record<string, number>>; mainIr: number[]; stdout: string[] }> {
  const out = join(dir, 'callgrind.out');
  const valgrind = ['--tool=callgrind', '--collect-jumps=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${out}`];
  // Simulated I1/D1/LL misses (I1mr, D1mr, D1mw, ILmr, DLmr, DLmw) and branch mispredicts (Bcm, Bim).
  if (cacheSim) valgrind.push('--cache-sim=yes', '--branch-sim=yes');
  // A long warm-up runs uninstrumented (several times faster), instrumentation on at its end.
  if (instrAfterWarmup) valgrind.push('--instr-atstart=no');
  const child = spawn('valgrind', [...valgrind, node, ...args], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const control = (flag: string): Promise<unknown> => promisify(execFile)('callgrind_control', [flag, String(child.pid)]);
  const stdout: string[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line === 'warm') {
      if (instrAfterWarmup) await control('--instr=on');
      await control('--zero');
    } else if (line === 'dump' || line === 'done') await control('--dump');
    else {
      stdout.push(line);
      continue;
    }
    child.stdin!.write('\n');
    if (line === 'done') child.stdin!.end();
  }
  if ((await exited) !== 0) throw new Error('the callgrind child failed');
  if (keep !== undefined) await copyFile(`/tmp/perf-${child.pid}.map`, join(keep, 'perf.map')).catch(() => undefined);
  // callgrind.out.<dump>-<thread>: one file per dump and thread (01: the main thread); the last, exit's, unused.
  const dumps: Array<Record<string, number>> = [];
  const mainIr: number[] = [];
  for (const f of (await readdir(dir)).sort()) {
    const m = /^callgrind\.out\.(\d+)-(\d+)$/.exec(f);
    if (!m) continue;
    if (keep !== undefined) await copyFile(join(dir, f), join(keep, f));
    const text = await readFile(join(dir, f), 'utf8');
    if (/^desc: Trigger: Program termination/m.test(text)) continue;
    const d = Number(m[1]) - 1;
    const names = /^events: (.*)$/m.exec(text)?.[1]?.split(' ') ?? [];
    const counts = /^(?:summary|totals): (.*)$/m.exec(text)?.[1]?.split(' ').map(Number) ?? [];
    const events = (dumps[d] ??= {});
    names.forEach((n, i) => (events[n] = (events[n] ?? 0) + (counts[i] ?? 0)));
    if (m[2] === '01') mainIr[d] = counts[0] ?? 0;
  }
  return { dumps, mainIr, stdout };
}

/**
 * The whole path's cold LL misses (dump 2, the main thread) by kind and by
 * function, per review: callgrind_annotate's flat profile, JIT code named from
 * V8's perf map (perf.map in `dir`), the evictions' own counts taken off.
 */
async function printColdMisses(dir: string, reviews: number): Promise<void> {
  const jit = (await readFile(join(dir, 'perf.map'), 'utf8').catch(() => ''))
    .split('\n').filter(Boolean)
    .map((l) => { const [a = '', n = '', ...name] = l.split(' '); return { start: parseInt(a, 16), end: parseInt(a, 16) + parseInt(n, 16), name: name.join(' ') }; })
    .sort((a, b) => a.start - b.start);
  const jitName = (address: number): string | undefined => {
    let lo = 0;
    let hi = jit.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (jit[mid]!.start <= address) lo = mid + 1;
      else hi = mid - 1;
    }
    const e = jit[hi];
    return e !== undefined && address < e.end ? e.name : undefined;
  };
  const count = String.raw`([\d,]+|\.)(?: \([^)]*\))?\s+`; // "." is a zero
  const row = new RegExp(String.raw`^\s*${count.repeat(4)}(\S.*)$`);
  const byKind = new Map<string, number[]>();
  const byFunction = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, key: string, v: number[]): void => {
    const t = m.get(key) ?? [0, 0, 0];
    v.forEach((x, i) => (t[i]! += x));
    m.set(key, t);
  };
  // The whole path cold (dump 2), less the evictions alone (the last dump) function by function.
  let last = Math.max(...(await readdir(dir)).map((f) => Number(/^callgrind\.out\.(\d+)-01$/.exec(f)?.[1] ?? 0)));
  if (/^desc: Trigger: Program termination/m.test(await readFile(join(dir, `callgrind.out.${last}-01`), 'utf8'))) last--;
  for (const [file, sign] of [['callgrind.out.2-01', 1], [`callgrind.out.${last}-01`, -1]] as const) {
    const { stdout } = await promisify(execFile)('callgrind_annotate', ['--inclusive=no', '--threshold=100', '--show=Ir,ILmr,DLmr,DLmw', join(dir, file)], { maxBuffer: 1 << 26 });
    for (const line of stdout.split('\n')) {
      const m = row.exec(line);
      if (!m || line.includes('PROGRAM TOTALS')) continue;
      const [ir, ilmr, dlmr, dlmw] = m.slice(1, 5).map((x) => (x === '.' ? 0 : sign * Number(x!.replaceAll(',', ''))));
      const fn = m[5]!;
      const address = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]/.exec(fn);
      const name = address ? (jitName(parseInt(address[1]!, 16)) ?? `0x${address[1]} (unnamed JIT code)`) : fn.replace(/^\?\?\?:/, '').replace(/ \[[^\]]*\]$/, '').slice(0, 100);
      const kind = address ? (name.startsWith('RegExp') ? 'JIT: regular expressions' : 'JIT: JavaScript') : name.startsWith('Builtins_') ? "V8's builtins" : /v8::|node::|simdutf/.test(name) ? 'V8 and Node C++' : 'libc, other';
      const v = [ir!, ilmr!, dlmr! + dlmw!];
      add(byKind, kind, v);
      add(byFunction, name, v);
    }
  }
  const line = (v: number[], what: string): string => `${fmt(v[0]! / reviews).padStart(9)} ${fmt(v[1]! / reviews).padStart(7)} ${fmt(v[2]! / reviews).padStart(7)}  ${what}`;
  console.log(`\nthe whole path cold, main thread, per review: instructions, LL code misses, LL data misses`);
  for (const [k, v] of [...byKind].sort((a, b) => b[1][1]! - a[1][1]!)) console.log(line(v, k));
  console.log('the 30 functions with the most LL misses (code + data)');
  for (const [k, v] of [...byFunction].sort((a, b) => b[1][1]! + b[1][2]! - a[1][1]! - a[1][2]!).slice(0, 30)) console.log(line(v, k));
}

/** n with thousands separated, to `digits` decimals. */
function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
