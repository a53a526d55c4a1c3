// npm run bundle — the CLI as a few ES module files in dist/bundle/, dependencies
// included, so `ws-drain serve` starts by reading one entry file and its chunks
// instead of resolving and compiling hundreds of node_modules files
// (docs/performance.md: cold start). Each command stays its own chunk, loaded
// only when run, as main.ts's dynamic imports say.
//
// The webhook image ships dist/bundle; bench/admission.ts measures the same bundle.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Two levels below package.json, like dist/cli/main.js (the version is inlined from package.json by the bundle). */
export const BUNDLE_DIR = join(ROOT, 'dist/bundle');
export const BUNDLE_ENTRY = 'main.js';

/** `root`: a checkout to bundle (bench/admission.ts --baseline bundles an older commit). */
export async function bundleCli(outdir: string = BUNDLE_DIR, root: string = ROOT): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, 'src/cli/main.ts') },
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
  });
  return join(outdir, BUNDLE_ENTRY);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entry = await bundleCli();
  process.stdout.write(`${entry}\n`);
}
