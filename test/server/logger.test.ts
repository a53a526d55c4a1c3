// The log line's timestamp (pino's isoTime field, formatted a cheaper way) and
// the buffered destination's flushing.
import { spawn } from 'node:child_process';
import fs, { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { createLogger, isoTimeField, LOG_BUFFER } from '../../src/server/logger.js';

describe('isoTimeField', () => {
  it('is byte for byte pino\'s isoTime field, across milliseconds, seconds, days and years', () => {
    const instants = [
      Date.UTC(2026, 11, 2, 4, 42, 20, 0),
      Date.UTC(2026, 11, 2, 4, 42, 20, 7),
      Date.UTC(2026, 11, 2, 4, 42, 20, 45),
      Date.UTC(2026, 11, 2, 4, 42, 20, 999),
      Date.UTC(2026, 11, 2, 4, 42, 21, 0),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1, 0, 0, 0, 1),
      Date.UTC(2028, 1, 29, 12, 0, 0, 500),
      Date.UTC(1999, 11, 31, 23, 59, 59, 998),
    ];
    let i = 0;
    const field = isoTimeField(() => instants[i]!);
    for (i = 0; i < instants.length; i++) {
      const realNow = Date.now;
      Date.now = () => instants[i]!;
      try {
        expect(field()).toBe(pino.stdTimeFunctions.isoTime());
      } finally {
        Date.now = realNow;
      }
    }
  });

  it('follows the clock backwards as well as forwards (a stepped clock)', () => {
    let now = Date.UTC(2026, 11, 2, 4, 42, 20, 500);
    const field = isoTimeField(() => now);
    expect(field()).toBe(',"time":"2026-12-02T04:42:20.500Z"');
    now -= 2_000;
    expect(field()).toBe(',"time":"2026-12-02T04:42:18.500Z"');
  });
});

describe('createLogger', () => {
  it('writes buffered lines within flushMs of the first one, and never touches its destination while idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-drain-log-'));
    const file = join(dir, 'log');
    const fd = openSync(file, 'w');
    vi.useFakeTimers();
    const writes = vi.spyOn(fs, 'write');
    try {
      const logger = createLogger('info', fd);
      vi.advanceTimersByTime(10 * LOG_BUFFER.flushMs);
      expect(writes).not.toHaveBeenCalled();

      logger.info({ n: 1 }, 'first');
      logger.info({ n: 2 }, 'second');
      expect(writes).not.toHaveBeenCalled(); // buffered: below flushBytes
      vi.advanceTimersByTime(LOG_BUFFER.flushMs);
      expect(writes).toHaveBeenCalledTimes(1);
      await vi.waitFor(() => expect(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).msg)).toEqual(['first', 'second']), { timeout: 30_000 });

      // Quiet again: no more writes, empty or not.
      vi.advanceTimersByTime(10 * LOG_BUFFER.flushMs);
      expect(writes).toHaveBeenCalledTimes(1);
    } finally {
      writes.mockRestore();
      vi.useRealTimers();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes lines whole, in order, at most writeBytes a write, and hands a partial batch over on every way out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-drain-log-'));
    const file = join(dir, 'log');
    const fd = openSync(file, 'w');
    const writes = vi.spyOn(fs, 'write');
    const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n: number; pad: string });
    const logger = createLogger('info', fd);
    const stream = (logger as unknown as Record<symbol, { flushSync(): void; end(): void; once(event: 'close', f: () => void): void }>)[pino.symbols.streamSym]!;
    try {
      // Lines of 90 to ~600 bytes (and one of 5000, longer than a write): batches cross flushBytes at every offset.
      const sent = Array.from({ length: 300 }, (_, n) => ({ n, pad: n === 150 ? 'y'.repeat(5000) : 'x'.repeat((n * 37) % 500) }));
      for (const line of sent) logger.info(line, 'admission');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      await vi.waitFor(() => expect(lines().length).toBe(300), { timeout: 30_000 });
      expect(lines().map((l) => [l.n, l.pad])).toEqual(sent.map((l) => [l.n, l.pad]));
      for (const call of writes.mock.calls) {
        const data = call[1] as string | Uint8Array;
        const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
        if (bytes > LOG_BUFFER.writeBytes) expect(String(data).split('\n').filter(Boolean)).toHaveLength(1); // only the one long line
        expect(String(data).endsWith('\n')).toBe(true);
      }

      // pino's exit path (flushSync) writes a batch still below flushBytes, synchronously.
      logger.info({ n: 300, pad: '' }, 'admission');
      stream.flushSync();
      expect(lines().at(-1)).toMatchObject({ n: 300 });
    } finally {
      writes.mockRestore();
      // Ended, not closed under it: the flush timer the first line armed may
      // still fire, and must find the stream destroyed (a no-op), not its fd
      // closed (an empty write failing with EBADF after this test). sonic-boom
      // closes the fd.
      await new Promise<void>((resolve) => {
        stream.once('close', resolve);
        stream.end();
      });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flushed(): an exit without waiting writes every line in order, even behind a write stuck in the thread pool', { timeout: 60_000 }, async () => {
    // One thread-pool thread, busy with a pbkdf2: an async write queued now
    // waits behind it, as on a loaded node. Then more lines, then exit.
    const run = async (beforeExit: string): Promise<number[]> => {
      const dir = mkdtempSync(join(tmpdir(), 'ws-drain-log-'));
      try {
        const script = join(dir, 'exit.mts');
        writeFileSync(
          script,
          `import { pbkdf2 } from 'node:crypto';
          import { createLogger, flushed } from ${JSON.stringify(fileURLToPath(new URL('../../src/server/logger.ts', import.meta.url)))};
          const logger = createLogger('info', 1);
          pbkdf2('secret', 'salt', 300_000, 32, 'sha256', () => {});
          logger.info({ n: 0 }, 'line');
          logger.info({ n: 1 }, 'line');
          logger.flush(); // queued behind the pbkdf2
          for (const n of [2, 3, 4]) logger.info({ n }, 'line');
          ${beforeExit}
          process.exit(1);`,
        );
        const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        await new Promise((done) => child.on('close', done));
        return out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { n: number }).n);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    expect(await run('await flushed(logger, 50_000);')).toEqual([0, 1, 2, 3, 4]);
    // The race it closes: pino's flushSync on exit writes 2-4 at once, and the queued write of 0-1 never runs.
    const unordered = await run('logger.flush();');
    expect(unordered).not.toEqual([0, 1, 2, 3, 4]);
    expect(unordered.slice(0, 3)).toEqual([2, 3, 4]);
  });
});
