// npm run bundle — the CLI as one CommonJS script, dist/bundle/ws-drain.cjs,
// dependencies included, so `ws-drain serve` starts by reading one file
// instead of resolving and compiling hundreds of node_modules files
// (docs/performance.md: cold start). A command's code runs only when that
// command runs (main.ts's dynamic imports become lazy module inits); the
// large dependencies serve does not use (the Kubernetes client, x509, yaml)
// are scripts of their own beside it (SIDE_SCRIPTS), read only by what uses
// them; a review thread starts from review-thread-entry.cjs.
//
// The image's entry is dist/bundle/main.cjs (scripts/code-cache-loader.cjs):
// it compiles ws-drain.cjs with ws-drain.cjs.cache, the V8 code cache that the
// build writes with its own Node (in the image build, the image's release)
// after serve answered a review over TLS, so a start reads the code the first
// review runs instead of compiling it. bench/admission.ts measures the same files.
import { build, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateDevCerts, writeDevCerts } from '../src/certs/dev-certs.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Two levels below package.json, like dist/cli/main.js (the version is inlined from package.json by the bundle). */
export const BUNDLE_DIR = join(ROOT, 'dist/bundle');
/** The image's entry: the loader (scripts/code-cache-loader.cjs). */
export const BUNDLE_ENTRY = 'main.cjs';
/** The CLI as one script, and V8's code cache of it (the loader reads both from beside itself). */
export const BUNDLE_SCRIPT = 'ws-drain.cjs';
export const CODE_CACHE = `${BUNDLE_SCRIPT}.cache`;
/**
 * Dependencies bundled as scripts of their own beside ws-drain.cjs, required
 * on first use: serve in a pod uses none of them (the Kubernetes client: check,
 * inject, serve with a kubeconfig; x509: certs and serve --dev; yaml: inject,
 * plan, check), and a script V8 compiles without a cache (another
 * architecture's image) costs in proportion to its size.
 */
export const SIDE_SCRIPTS: Readonly<Record<string, string>> = { '@kubernetes/client-node': 'kube-client.cjs', '@peculiar/x509': 'x509.cjs', yaml: 'yaml.cjs' };
export const KUBE_CLIENT = SIDE_SCRIPTS['@kubernetes/client-node']!;

/** esbuild plugin: each of SIDE_SCRIPTS is required from its script beside the bundle's, on first use. */
const sideScripts: Plugin = {
  name: 'side-scripts',
  setup(b) {
    b.onResolve({ filter: /^[@a-z]/ }, (args) => {
      const file = SIDE_SCRIPTS[args.path];
      return file === undefined ? undefined : { path: file, namespace: 'side-script' };
    });
    // A module standing for the package: its require() of the script stays in the output.
    b.onLoad({ filter: /.*/, namespace: 'side-script' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`./${args.path}`)});`, loader: 'js' }));
    b.onResolve({ filter: /^\.\/[\w-]+\.cjs$/, namespace: 'side-script' }, (args) => ({ path: args.path, external: true }));
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
 * webhook's RSS after 100k reviews is 19-55 MiB lower for no CPU cost measurable here (2 MiB cost
 * +26 % CPU per review; docs/performance.md).
 */
export const IMAGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The environment the image runs the bundle with (the Dockerfile's ENV says
 * the same, with LD_PRELOAD=IMAGE_PRELOAD; test/manifests checks it). The
 * bench runs the bundle with it too (imageNodeEnv). MALLOC_CONF configures
 * jemalloc, which the image preloads instead of glibc's malloc: its
 * background thread returns pages freed and unused for dirty_decay_ms to the
 * kernel (glibc's arenas keep them; docs/performance.md). Without the preload
 * (the build's code-cache training) glibc ignores it.
 */
export const IMAGE_NODE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_CONF: 'background_thread:true,dirty_decay_ms:1000' };

/** Where the image keeps jemalloc's shared object, preloaded into node (the Dockerfile's ENV LD_PRELOAD). */
export const IMAGE_PRELOAD = '/nodejs/lib/libjemalloc.so.2';

/**
 * The image's environment outside the image: IMAGE_NODE_ENV with jemalloc
 * preloaded from `jemalloc` (hostJemalloc()). A preload the loader cannot
 * open is only a warning on stderr (the process runs on glibc's malloc), so
 * callers check the running process with assertPreloaded.
 */
export function imageNodeEnv(jemalloc: string): Record<string, string> {
  return { ...IMAGE_NODE_ENV, LD_PRELOAD: jemalloc };
}

/** The image's jemalloc for this machine's architecture (tools/images/jemalloc.sh: Debian's package, cached). */
export async function hostJemalloc(): Promise<string> {
  const { stdout } = await promisify(execFile)(join(ROOT, 'tools/images/jemalloc.sh'), { cwd: ROOT });
  return stdout.trim().split('\n').pop()!;
}

/** Throws unless process `pid` has `lib` mapped: the preload took. */
export async function assertPreloaded(pid: number, lib: string): Promise<void> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  if (!maps.split('\n').some((l) => l.endsWith(` ${lib}`))) throw new Error(`process ${pid} runs without ${lib} (LD_PRELOAD did not take: see its stderr)`);
}

/** The user the webhook image runs as (the Dockerfile's USER; test/manifests checks it). */
export const IMAGE_USER = { uid: 65532, gid: 65532 } as const;

/** What the build trains the code cache on: an opted-in pod of a ReplicaSet, as the API server sends it. */
const TRAINING_REVIEW = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '00000000-0000-4000-8000-000000000001',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'apps',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'chat-7d9f8b6c4-',
        namespace: 'apps',
        labels: { app: 'chat' },
        annotations: { 'ws-drain/session-p95': '2m' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'chat-7d9f8b6c4', uid: '6f1c2a8e-1111-4222-8333-944455556666', controller: true }],
      },
      spec: {
        containers: [
          { name: 'chat', image: 'registry.example.com/chat:1.4.2', ports: [{ name: 'ws', containerPort: 8080, protocol: 'TCP' }], readinessProbe: { httpGet: { path: '/ready', port: 8080 } } },
          { name: 'envoy', image: 'envoyproxy/envoy:v1.31.0', ports: [{ name: 'proxy', containerPort: 10000, protocol: 'TCP' }] },
        ],
      },
    },
    oldObject: null,
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  },
};

/** A loopback port nobody listens on now (the training serve's; bench/admission.ts's servers). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = (s.address() as AddressInfo);
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Writes the bundle's code cache: `node` (the release that will run the
 * bundle: a cache is valid only for the release, architecture and flags that
 * wrote it) runs serve through the loader with the image's flags and
 * environment, on loopback with throw-away certificates, and the loader writes
 * the cache once serve answered TRAINING_REVIEW over TLS. Returns its path.
 */
export async function trainCodeCache(bundleDir: string, node: string = process.execPath): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ws-drain-train-'));
  try {
    const certs = await writeDevCerts(dir, await generateDevCerts({ hosts: ['localhost', '127.0.0.1'] }));
    const review = join(dir, 'review.json');
    await writeFile(review, JSON.stringify(TRAINING_REVIEW));
    const args = [...IMAGE_NODE_FLAGS, join(bundleDir, BUNDLE_ENTRY), 'serve', '--port', String(await freePort()), '--metrics-port', '0', '--tls-cert', certs.tlsCert, '--tls-key', certs.tlsKey, '--log-level', 'warn'];
    const env = { ...process.env, ...IMAGE_NODE_ENV, WS_DRAIN_NAMESPACE_SOURCE: 'none', WS_DRAIN_CODE_CACHE_TRAIN: review };
    await promisify(execFile)(node, args, { env, timeout: 120_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return join(bundleDir, CODE_CACHE);
}

/**
 * One CommonJS script of `entry`, SIDE_SCRIPTS left to their scripts
 * beside it. `strict`: fail if a lazy require no longer occurs.
 */
async function bundleScript(entry: string, outfile: string, strict: boolean): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // import.meta.url of a CommonJS script: its file's URL (review-pool.ts finds the review thread's entry beside it).
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    // import.meta.resolve: review-pool.ts's path for TypeScript sources (tsx) only.
    logOverride: { 'empty-import-meta': 'silent' },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [lazyRequires(LAZY_REQUIRES, strict), sideScripts],
  });
}

/**
 * Bundles the CLI of `root` (bench/admission.ts --baseline bundles an older
 * checkout) into `outdir`: the loader, the script, the Kubernetes client and
 * the review threads' entry. Returns the loader, what the image runs.
 */
export async function bundleCli(outdir: string = BUNDLE_DIR, root: string = ROOT): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  await Promise.all([
    // An older checkout (bench --baseline) may not have every lazy require.
    bundleScript(join(root, 'src/cli/main.ts'), join(outdir, BUNDLE_SCRIPT), root === ROOT),
    bundleScript(join(root, 'src/server/review-thread-entry.ts'), join(outdir, 'review-thread-entry.cjs'), false),
    ...Object.entries(SIDE_SCRIPTS).map(([pkg, file]) =>
      build({ stdin: { contents: `module.exports = require(${JSON.stringify(pkg)});`, resolveDir: root }, outfile: join(outdir, file), bundle: true, format: 'cjs', platform: 'node', target: 'node20', minifyWhitespace: true, minifySyntax: true, logLevel: 'warning' }),
    ),
  ]);
  await copyFile(join(ROOT, 'scripts/code-cache-loader.cjs'), join(outdir, BUNDLE_ENTRY));
  return join(outdir, BUNDLE_ENTRY);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entry = await bundleCli();
  const cache = await trainCodeCache(BUNDLE_DIR);
  process.stdout.write(`${entry}\n${cache}\n`);
}
