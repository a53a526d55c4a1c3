// Two cold-start experiments of issue 14 (docs/performance.md: "Tried and
// not adopted"), run by bench/admission.ts beside the image's bundle:
// - ws-drain-snapshot*: serve started from a V8 startup snapshot
//   (`node --snapshot-blob`) that already holds the core and the admission
//   schemas, and optionally a review answered while building;
// - ws-drain-trained-cache: the CLI compiled with a V8 code cache written after
//   serve answered a review (bench/code-cache-loader.cjs).
//
// Both bundle the CLI as one CommonJS file (a snapshot builder cannot import
// ES modules or files beside it; vm.Script compiles one script), leaving the
// Kubernetes client, x509 and yaml outside it: the experiments cover serve
// with --namespace-source none and the in-cluster informer only.
import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LAZY_REQUIRES, lazyRequires } from '../scripts/bundle.js';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** One CommonJS file of `entry` and the CLI. */
async function bundleCommonJs(entry: string, outfile: string, define: Record<string, string> = {}): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    // import.meta (review threads' entry) is empty in CommonJS: reviews over 64 KiB are outside the experiments.
    logLevel: 'error',
    define,
    external: ['@kubernetes/client-node', '@peculiar/x509', 'yaml'],
    plugins: [lazyRequires(LAZY_REQUIRES)],
  });
}

/**
 * Bundles bench/snapshot-entry.ts into `dir` and builds its snapshot with
 * `node` (a blob only starts on the Node binary that wrote it). `warmBody`:
 * an AdmissionReview answered while building. Returns the blob's path.
 */
export async function buildServeSnapshot(dir: string, node: string, warmBody: string | undefined, name = 'serve'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const script = join(dir, `${name}.cjs`);
  await bundleCommonJs(here('./snapshot-entry.ts'), script, { SNAPSHOT_SCRIPT: JSON.stringify(script) });
  const blob = join(dir, `${name}.blob`);
  await promisify(execFile)(node, ['--snapshot-blob', blob, '--build-snapshot', script], { env: { ...process.env, WS_DRAIN_SNAPSHOT_WARM: warmBody ?? '' } });
  return blob;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * The CLI as `dir`/cli.cjs with bench/code-cache-loader.cjs beside it, and the
 * code cache `node` writes after serving `bodyFile` once (with `cert`, `key`).
 * Returns the loader (run it with serve's arguments) and its environment.
 */
export async function buildTrainedCodeCache(dir: string, node: string, bodyFile: string, cert: string, key: string): Promise<{ loader: string; env: Record<string, string> }> {
  await mkdir(dir, { recursive: true });
  await bundleCommonJs(here('./code-cache-entry.ts'), join(dir, 'cli.cjs'));
  const loader = join(dir, 'loader.cjs');
  await copyFile(here('./code-cache-loader.cjs'), loader);
  const env = { WS_DRAIN_CODE_CACHE: join(dir, 'cli.cjs.cache') };
  const args = [loader, 'serve', '--port', String(await freePort()), '--metrics-port', '0', '--tls-cert', cert, '--tls-key', key];
  await promisify(execFile)(node, args, { env: { ...process.env, ...env, WS_DRAIN_NAMESPACE_SOURCE: 'none', WS_DRAIN_CODE_CACHE_TRAIN: bodyFile }, timeout: 60_000 });
  return { loader, env };
}
