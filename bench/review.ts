// The request every benchmark sends and the answer it must get back: a
// ReplicaSet creating an opted-in pod with three containers, answered by the
// same core the webhook runs (so a server that answers wrongly is caught).
import { execFile, spawn } from 'node:child_process';
import { readSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
//   options: --reviews N (per round) --rounds N --pods N
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
  const handshake = (line: string): void => {
    process.stdout.write(`${line}\n`);
    readSync(0, Buffer.alloc(1)); // the parent answers once callgrind_control is done
  };
  handshake('warm');
  for (let i = 0; i < reviews; i++) whole.run(i);
  handshake('done');
}

export async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reviews: { type: 'string', default: '20000' },
      rounds: { type: 'string', default: '5' },
      pods: { type: 'string', default: '1000' },
      callgrind: { type: 'boolean', default: false },
      deopts: { type: 'boolean', default: false },
      'cache-sim': { type: 'boolean', default: false },
      warmup: { type: 'string' },
      child: { type: 'string' },
    },
  });
  const reviews = Number(values.reviews);
  const pods = Number(values.pods);
  if (values.child === 'stages') return measureStages(reviews, Number(values.rounds), pods);
  if (values.child === 'callgrind') return callgrindLoop(reviews, pods, values.warmup === undefined ? undefined : Number(values.warmup));
  if (values.child === 'deopts') return deoptLoop(reviews, pods);

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
    const args = [...IMAGE_NODE_FLAGS, script, '--reviews', String(reviews), '--rounds', values.rounds, '--pods', String(pods)];
    const env = { ...process.env, ...IMAGE_NODE_ENV };
    const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
    const loadBefore = load();
    if (values.callgrind) {
      // V8's --predictable: its compilers and GC on the main thread, at reproducible points. With
      // them on background threads, the same code counted 384 k and 415 k on the main thread in two
      // runs: what it runs depends on when an optimised version lands, still often after this warm-up.
      const warm = values.warmup === undefined ? [] : ['--warmup', values.warmup];
      const { all, main, events } = await instructionsPerReview(node, ['--predictable', ...args, '--child', 'callgrind', ...warm], env, dir, reviews, values['cache-sim'], values.warmup !== undefined);
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
async function instructionsPerReview(node: string, args: string[], env: NodeJS.ProcessEnv, dir: string, reviews: number, cacheSim = false, instrAfterWarmup = false): Promise<{ all: number; main: number; events: Record<string, number> }> {
  const out = join(dir, 'callgrind.out');
  const valgrind = ['--tool=callgrind', '--collect-jumps=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${out}`];
  // Simulated I1/D1/LL misses (I1mr, D1mr, D1mw, ILmr, DLmr, DLmw) and branch mispredicts (Bcm, Bim).
  if (cacheSim) valgrind.push('--cache-sim=yes', '--branch-sim=yes');
  // A long warm-up runs uninstrumented (several times faster), instrumentation on at its end.
  if (instrAfterWarmup) valgrind.push('--instr-atstart=no');
  const child = spawn('valgrind', [...valgrind, node, ...args], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const control = (flag: string): Promise<unknown> => promisify(execFile)('callgrind_control', [flag, String(child.pid)]);
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line === 'warm') {
      if (instrAfterWarmup) await control('--instr=on');
      await control('--zero');
    }
    else if (line === 'done') await control('--dump');
    else continue;
    child.stdin!.write('\n');
    if (line === 'done') break;
  }
  child.stdin!.end();
  if ((await exited) !== 0) throw new Error('the callgrind child failed');
  // callgrind.out.<dump>-<thread>: the one dump before exit's, one file per thread (01: the main thread).
  let all = 0;
  let main = 0;
  const events: Record<string, number> = {};
  for (const f of await readdir(dir)) {
    const m = /^callgrind\.out\.1-(\d+)$/.exec(f);
    if (!m) continue;
    const text = await readFile(join(dir, f), 'utf8');
    const count = Number(/^(?:summary|totals): (\d+)/m.exec(text)?.[1] ?? 0);
    all += count;
    if (m[1] === '01') main = count;
    const names = /^events: (.*)$/m.exec(text)?.[1]?.split(' ') ?? [];
    const counts = /^(?:summary|totals): (.*)$/m.exec(text)?.[1]?.split(' ').map(Number) ?? [];
    names.forEach((n, i) => (events[n] = (events[n] ?? 0) + (counts[i] ?? 0)));
  }
  return { all, main, events };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
