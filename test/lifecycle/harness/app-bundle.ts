// The example server is bundled to one CommonJS file once per run and started
// with plain `node`: under the tsx loader a process needs ~300 ms to exit (its
// loader thread and esbuild service), which would blur the exit timings that
// the drain benchmark measures. esbuild comes with tsx.
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './helper-binary.js';

let bundled: string | undefined;

/** Removes the bundle (test runners do not always run process 'exit' hooks). */
export function removeExampleServerBundle(): void {
  if (bundled) rmSync(path.dirname(bundled), { recursive: true, force: true });
  bundled = undefined;
}

export function exampleServerBundle(): string {
  if (bundled) return bundled;
  const dir = mkdtempSync(path.join(tmpdir(), 'ws-echo-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'ws-server.cjs');
  buildSync({
    entryPoints: [path.join(REPO_ROOT, 'examples/ws-server/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    // ws loads these native accelerators only if installed.
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'error',
  });
  bundled = outfile;
  return outfile;
}
