// npm run bundle — the CLI as a few ES module files in dist/bundle/, dependencies
// included, so `ws-drain serve` starts by reading one entry file and its chunks
// instead of resolving and compiling hundreds of node_modules files
// (docs/performance.md: cold start). Each command stays its own chunk, loaded
// only when run, as main.ts's dynamic imports say.
//
// Beside it, dist/compile-cache: V8's code cache of every chunk, written by
// the Node that runs the build (in the image build, the image's Node), so a
// start reads compiled code instead of compiling the chunks again.
//
// The webhook image ships dist/bundle and dist/compile-cache (its ENV turns the
// cache on); bench/admission.ts measures the same files.
import { build, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Two levels below package.json, like dist/cli/main.js (the version is inlined from package.json by the bundle). */
export const BUNDLE_DIR = join(ROOT, 'dist/bundle');
export const BUNDLE_ENTRY = 'main.js';
/**
 * The bundle's entry points, by output name. review-thread-entry: what a
 * review thread runs (src/server/review-pool.ts starts it from beside its own chunk).
 */
const ENTRY_POINTS: Record<string, string> = { main: 'src/cli/main.ts', 'review-thread-entry': 'src/server/review-thread-entry.ts' };

/**
 * Node's built-in modules through require(), not as ES imports: importing a
 * built-in from an ES module builds a facade that reads every export, and
 * node:http's lazy getters (WebSocket, fetch's classes) then load all of
 * undici at start (docs/performance.md: cold start).
 */
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(b) {
    const names = new Set(builtinModules);
    // Only ES imports: a require() of a built-in (CommonJS dependencies, and the module below) already is one.
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      args.kind === 'import-statement' && (args.path.startsWith('node:') || names.has(args.path)) ? { path: args.path, namespace: 'builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/**
 * CommonJS modules that dependencies require at load time for features serve
 * never uses: each is loaded on first use instead of at start
 * (docs/performance.md: cold start). `importer`: the requiring file under
 * node_modules; `path`: what it passes to require().
 */
export const LAZY_REQUIRES: readonly LazyRequire[] = [
  // prom-client's index: the Pushgateway (loads zlib and url) and Summary (tdigest); serve keeps no summaries.
  { importer: 'prom-client/index.js', path: './lib/pushgateway' },
  { importer: 'prom-client/index.js', path: './lib/summary' },
  // The OpenTelemetry API, for exemplars on process_cpu_seconds_total, which serve does not enable.
  { importer: 'prom-client/lib/metrics/processCpuTotal.js', path: '@opentelemetry/api' },
  // pino's transports (worker threads) and multistream; serve logs to a file descriptor.
  { importer: 'pino/pino.js', path: './lib/transport' },
  { importer: 'pino/pino.js', path: './lib/multistream' },
  { importer: 'pino/lib/tools.js', path: './transport' },
];

export interface LazyRequire {
  importer: string;
  path: string;
}

/**
 * Stands in for a lazy module until it is used: reading a property, calling or
 * constructing it loads the real module (bundled as usual, run only then) and
 * forwards to it.
 */
function lazyModule(path: string): string {
  return `let real;
const load = () => (real ??= require(${JSON.stringify(path)}));
module.exports = new Proxy(function lazy() {}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
});
`;
}

/**
 * esbuild plugin: the `lazy` requires load on first use. With `strict`, a
 * build where one of them no longer occurs fails (a dependency changed); an
 * older checkout (bench --baseline) may not have them all.
 */
export function lazyRequires(lazy: readonly LazyRequire[], strict = true): Plugin {
  return {
    name: 'lazy-requires',
    setup(b) {
      const seen = new Set<LazyRequire>();
      b.onResolve({ filter: /./ }, (args) => {
        // The stand-in's own require() resolves as usual.
        if (args.kind !== 'require-call' || args.namespace === 'lazy') return undefined;
        const entry = lazy.find((l) => l.path === args.path && args.importer.endsWith(`/node_modules/${l.importer}`));
        if (entry === undefined) return undefined;
        seen.add(entry);
        return { path: join(args.resolveDir, args.path), namespace: 'lazy', pluginData: { request: args.path, resolveDir: args.resolveDir } };
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => {
        const { request, resolveDir } = args.pluginData as { request: string; resolveDir: string };
        return { contents: lazyModule(request), resolveDir, loader: 'js' };
      });
      b.onEnd((result) => {
        if (!strict || result.errors.length > 0) return;
        const unused = lazy.filter((l) => !seen.has(l));
        if (unused.length > 0) return { errors: unused.map((l) => ({ text: `lazy require ${JSON.stringify(l.path)} from ${l.importer} not found: update LAZY_REQUIRES (scripts/bundle.ts)` })) };
        return undefined;
      });
    },
  };
}

/**
 * Node flags the image runs the bundle with (the Dockerfile's ENTRYPOINT says
 * the same; test/manifests checks it). V8 lets the young generation grow to
 * 3 × 16 MiB under a steady allocation rate; capped at 8 MiB semi-spaces the
 * webhook's RSS is ~10 MiB lower for no CPU cost measurable here (2 MiB cost
 * +26 % CPU per review; docs/performance.md).
 */
export const IMAGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The environment the image runs the bundle with, besides the compile cache's
 * (the Dockerfile's ENV says the same; test/manifests checks it). The bench
 * runs the bundle with it too. MALLOC_ARENA_MAX: glibc's malloc gives each
 * thread that allocates (V8's GC and compiler threads, libuv's pool) an arena
 * of its own, up to 8 per core, that keeps what it once held; two arenas
 * shared by all threads keep less (docs/performance.md).
 */
export const IMAGE_NODE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' };

/** The user the webhook image runs as (the Dockerfile's USER; test/manifests checks it): its compile cache is written for it. */
export const IMAGE_USER = { uid: 65532, gid: 65532 } as const;

/**
 * How a process finds the compile cache (the Dockerfile's ENV says the same):
 * portable, so a cache written under /src/dist in the build stage is used
 * under /app/dist in the image (entries are keyed by the path relative to it).
 */
export function compileCacheEnv(cacheDir: string): Record<string, string> {
  return { NODE_COMPILE_CACHE: cacheDir, NODE_COMPILE_CACHE_PORTABLE: '1' };
}

/** dist/compile-cache for dist/bundle. */
export const compileCacheDir = (bundleDir: string): string => join(dirname(bundleDir), 'compile-cache');

/** Node 24.12+ has the portable cache; an older Node (this machine's 20) writes none, and the bundle runs the same without it. */
export function hasPortableCompileCache(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 12);
}

/**
 * Fills the compile cache by loading every chunk once (every command's, the
 * Kubernetes client's too: check and inject load it, and serve with a kubeconfig).
 * Loading runs each chunk's top level only, which has no side effects; the
 * CLI's entry itself is run as `--version`. `node`: the release that will run the
 * bundle (its cache is only valid for itself). Returns the cache directory, or
 * undefined when that Node cannot write a portable cache.
 */
export async function writeCompileCache(bundleDir: string, node: string = process.execPath, user?: { uid: number; gid: number }): Promise<string | undefined> {
  const version = (await promisify(execFile)(node, ['--version'])).stdout.trim().replace(/^v/, '');
  if (!hasPortableCompileCache(version)) return undefined;
  const cacheDir = compileCacheDir(bundleDir);
  await rm(cacheDir, { recursive: true, force: true });
  // Node keeps each user's entries apart (a directory per uid): the cache is written as the user who will read it.
  await mkdir(cacheDir, { recursive: true });
  if (user !== undefined) await chown(cacheDir, user.uid, user.gid);
  // Entry points are run, not imported: their top level acts (main.js runs the CLI, a review thread's entry serves its port).
  const entries = new Set(Object.keys(ENTRY_POINTS).map((name) => `${name}.js`));
  const chunks = (await readdir(bundleDir)).filter((f) => f.endsWith('.js') && !entries.has(f));
  const env = { ...process.env, ...compileCacheEnv(cacheDir), NODE_NO_WARNINGS: '1' };
  const load = `for (const f of ${JSON.stringify(chunks)}) await import(${JSON.stringify(bundleDir)} + '/' + f);`;
  await promisify(execFile)(node, ['--input-type=module', '-e', load], { env, ...user });
  await promisify(execFile)(node, [join(bundleDir, BUNDLE_ENTRY), '--version'], { env, ...user });
  return cacheDir;
}

/** `root`: a checkout to bundle (bench/admission.ts --baseline bundles an older commit). */
export async function bundleCli(outdir: string = BUNDLE_DIR, root: string = ROOT): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  // A cache of an older bundle would only be rejected entry by entry.
  await rm(compileCacheDir(outdir), { recursive: true, force: true });
  await build({
    // An older checkout (bench --baseline) may predate an entry point.
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).flatMap(([name, source]) => (existsSync(join(root, source)) ? [[name, join(root, source)]] : []))),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Dependencies written as CommonJS call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [lazyRequires(LAZY_REQUIRES, root === ROOT), builtinsByRequire],
  });
  return join(outdir, BUNDLE_ENTRY);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entry = await bundleCli();
  // As root (the image's build stage), for the user the image runs as; else for whoever builds.
  const cache = await writeCompileCache(BUNDLE_DIR, process.execPath, process.getuid?.() === 0 ? IMAGE_USER : undefined);
  process.stdout.write(`${entry}\n${cache ?? `no compile cache: Node ${process.versions.node} has no portable one (24.12+)`}\n`);
}
