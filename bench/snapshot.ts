// A cold-start experiment of issue 14 (docs/performance.md: "Tried and not
// adopted"), run by bench/admission.ts beside the image's bundle:
// ws-drain-snapshot*: serve started from a V8 startup snapshot
// (`node --snapshot-blob`) that already holds the core and the admission
// schemas, and optionally a review answered while building.
//
// It bundles the CLI as one CommonJS file (a snapshot builder cannot import
// ES modules or files beside it), leaving the Kubernetes client, x509 and yaml
// outside it: the experiment covers serve with --namespace-source none and the
// in-cluster informer only. (The code cache trained on a review, the other
// experiment that lived here, is what the image runs now: scripts/bundle.ts.)
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
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
