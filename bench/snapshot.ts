// The startup-snapshot experiment of issue 14 (docs/performance.md: "Tried
// and not adopted"): serve started from a V8 startup snapshot
// (`node --snapshot-blob`) that already holds the core and the admission
// schemas, and optionally a review answered while building. bench/admission.ts
// runs it as the targets ws-drain-snapshot and ws-drain-snapshot-cold beside the image's bundle.
//
// The CLI is bundled as one CommonJS file (a snapshot builder cannot import ES
// modules or files beside it), so the Kubernetes client, x509 and yaml stay
// outside it: the experiment covers serve with --namespace-source none and the
// in-cluster informer only.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LAZY_REQUIRES, lazyRequires } from '../scripts/bundle.js';

const ENTRY = fileURLToPath(new URL('./snapshot-entry.ts', import.meta.url));

/**
 * Bundles bench/snapshot-entry.ts into `dir` and builds its snapshot with
 * `node` (a blob only starts on the Node binary that wrote it). `warmBody`:
 * an AdmissionReview answered while building. Returns the blob's path.
 */
export async function buildServeSnapshot(dir: string, node: string, warmBody: string | undefined, name = 'serve'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const script = join(dir, `${name}.cjs`);
  await build({
    entryPoints: [ENTRY],
    outfile: script,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    // import.meta (review threads' entry) is empty in CommonJS: reviews over 64 KiB are outside the experiment.
    logLevel: 'error',
    define: { SNAPSHOT_SCRIPT: JSON.stringify(script) },
    external: ['@kubernetes/client-node', '@peculiar/x509', 'yaml'],
    plugins: [lazyRequires(LAZY_REQUIRES)],
  });
  const blob = join(dir, `${name}.blob`);
  await promisify(execFile)(node, ['--snapshot-blob', blob, '--build-snapshot', script], { env: { ...process.env, WS_DRAIN_SNAPSHOT_WARM: warmBody ?? '' } });
  return blob;
}
