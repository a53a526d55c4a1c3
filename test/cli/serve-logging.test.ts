// `ws-drain serve` buffers its log lines (src/server/logger.ts): a real process
// must still write every admission line it answered before exiting, whether it
// shuts down gracefully on SIGTERM or is told to stop at once by a second signal.
import { afterEach, describe, expect, it } from 'vitest';
import { admissionReview } from '../server/review-fixtures.js';
import { startServe, type ServeProcess } from './serve-process.js';

// Spawning tsx processes takes seconds on a loaded machine: a harness bound, not a performance assertion.
const TIMEOUT_MS = 120_000;

/** Answers a few admissions (5 lines of ~250 bytes stay in the buffer, below LOG_BUFFER.flushBytes), returns their uids. */
async function admitSome(s: ServeProcess, n: number): Promise<string[]> {
  const uids = Array.from({ length: n }, (_, i) => `flush-test-${i}`);
  for (const uid of uids) {
    const res = await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid })));
    expect(res.status).toBe(200);
  }
  return uids;
}

const admissionUids = (s: ServeProcess) => s.lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']);

describe('ws-drain serve logging', { timeout: TIMEOUT_MS }, () => {
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await serve?.cleanup();
    serve = undefined;
  });

  it('on SIGTERM, writes the admission lines answered just before, then the shutdown lines, and exits 0', async () => {
    serve = await startServe();
    const uids = await admitSome(serve, 5);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(admissionUids(serve)).toEqual(uids);
    const msgs = serve.lines.map((l) => l['msg']);
    expect(msgs.indexOf('signal received')).toBeGreaterThan(msgs.lastIndexOf('admission'));
    expect(msgs[msgs.length - 1]).toBe('shutdown complete');
  });

  it('on a second signal (exit without waiting), still writes every admission line', async () => {
    // A long shutdown delay keeps the graceful path from finishing first.
    serve = await startServe(['--shutdown-delay', '60s']);
    const uids = await admitSome(serve, 5);
    // Back to back, before the periodic flush: the lines are still in the buffer.
    serve.child.kill('SIGTERM');
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(1);
    expect(admissionUids(serve)).toEqual(uids);
    expect(serve.lines.map((l) => l['msg'])).toContain('second signal: exiting without waiting');
  });
});
