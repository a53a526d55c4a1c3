// The log line's timestamp: pino's isoTime field, formatted a cheaper way.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { isoTimeField } from '../../src/server/logger.js';

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
