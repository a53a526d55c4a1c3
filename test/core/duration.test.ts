import { describe, expect, it } from 'vitest';
import { formatSeconds, parseDuration, parseMargin } from '../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['5m', 300],
    ['1h30m', 5400],
    ['1.5m', 90],
    ['500ms', 0.5],
    ['0s', 0],
    ['0', 0],
    ['300', 300],
    ['2h', 7200],
    ['1m30s', 90],
    ['.5s', 0.5],
    ['1.s', 1],
    ['1500us', 0.0015],
    ['1h0m0s', 3600],
  ])('accepts %s as %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBeCloseTo(seconds, 9);
  });

  it.each(['', '-5s', '-1', '+5m', '5 min', '5min', '5d', 'm', '1.5', '1h 30m', ' 5m', '5m ', 's', 'abc', '5M', '1e3s', 'Infinity', 'NaN', '0x10'])(
    'rejects %j',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('parseMargin', () => {
  it.each([
    ['30%', 0.3],
    ['0.3', 0.3],
    ['0%', 0],
    ['0', 0],
    ['12.5%', 0.125],
    ['100%', 1],
    ['1000%', 10],
    ['10', 10],
    ['.25', 0.25],
    ['7%', 0.07],
  ])('accepts %s as %d', (text, value) => {
    expect(parseMargin(text)).toBe(value);
  });

  it.each(['30', '1001%', '-10%', '-0.1', '30 %', '%', '', 'thirty', '0.3.1', '10.5', '1e1'])('rejects %j', (text) => {
    expect(parseMargin(text)).toBeUndefined();
  });
});

describe('formatSeconds', () => {
  it('writes whole seconds, rounding up', () => {
    expect(formatSeconds(20)).toBe('20s');
    expect(formatSeconds(0)).toBe('0s');
    expect(formatSeconds(0.2)).toBe('1s');
  });
});
