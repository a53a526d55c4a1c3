// Builds bench/malloc-trim-shim.c (a preloaded thread that calls malloc_trim(0)
// periodically) with the machine's gcc, for the benches' malloc-trim variants:
// what a periodic trim would keep of the memory malloc holds unused.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SOURCE = fileURLToPath(new URL('malloc-trim-shim.c', import.meta.url));

/** The shared object in `dir`; the environment that preloads it with `intervalMs`. */
export async function mallocTrimShim(dir: string, intervalMs = 10_000): Promise<Record<string, string>> {
  const out = join(dir, 'malloc-trim-shim.so');
  await promisify(execFile)('gcc', ['-shared', '-fPIC', '-O2', '-pthread', '-o', out, SOURCE]).catch((e: Error) => {
    throw new Error(`malloc-trim variants need gcc: ${e.message}`);
  });
  return { LD_PRELOAD: out, MALLOC_TRIM_INTERVAL_MS: String(intervalMs) };
}
