// The image's allocator outside the image, as the bench runs serve "as the
// image does" (scripts/bundle.ts imageNodeEnv): Debian's libjemalloc2 of this
// machine (tools/images/jemalloc.sh, fetched once into $WS_DRAIN_CACHE) is
// loaded with the image's MALLOC_CONF in effect, and a preload the loader
// cannot open is caught by assertPreloaded rather than left to a warning on
// stderr while the process runs on glibc's malloc. The image itself:
// test/release/images.test.ts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_NODE_ENV, assertPreloaded, hostJemalloc, imageNodeEnv } from '../../scripts/bundle.js';
import { runProcess } from '../e2e/controlplane/run.js';

/** A node process that waits until killed, its stderr, and `check` run while it is alive. */
async function whileRunning(env: Record<string, string>, check: (pid: number) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, ['-e', "process.stdout.write('up\\n'); setInterval(() => {}, 1000)"], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    await check(child.pid!);
    return stderr;
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe('jemalloc preloaded as the image does', () => {
  let jemalloc: string;
  beforeAll(async () => {
    jemalloc = await hostJemalloc();
  }, 180_000);

  it('is mapped into node with imageNodeEnv, and jemalloc runs with the image\'s MALLOC_CONF', async () => {
    expect(existsSync(jemalloc)).toBe(true);
    const stderr = await whileRunning(imageNodeEnv(jemalloc), (pid) => assertPreloaded(pid, jemalloc));
    expect(stderr).toBe('');
    const stats = await runProcess(process.execPath, ['-e', '0'], { env: { PATH: process.env['PATH'], ...imageNodeEnv(jemalloc), MALLOC_CONF: `${IMAGE_NODE_ENV['MALLOC_CONF']},stats_print:true` } });
    expect(stats.code).toBe(0);
    expect(stats.stderr).toContain('Begin jemalloc statistics');
    for (const pair of IMAGE_NODE_ENV['MALLOC_CONF']!.split(',')) {
      const [key, value] = pair.split(':');
      expect(stats.stderr).toMatch(new RegExp(`^\\s*opt\\.${key}: ${value}\\b`, 'm'));
    }
  });

  it('a preload the loader cannot open only warns and the process runs on glibc: assertPreloaded fails it', async () => {
    const missing = join(jemalloc, '..', 'missing', 'libjemalloc.so.2');
    let caught: unknown;
    const stderr = await whileRunning(imageNodeEnv(missing), (pid) => assertPreloaded(pid, missing).catch((e: unknown) => void (caught = e)));
    expect(stderr).toMatch(/cannot be preloaded/);
    expect(String(caught)).toMatch(/runs without .*libjemalloc\.so\.2 \(LD_PRELOAD did not take/);
  });
});
