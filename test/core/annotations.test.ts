import { describe, expect, it } from 'vitest';
import { parseAnnotations, parseDrainHttp, readOptIn } from '../../src/core/annotations.js';
import { CONFIG } from './pod-builders.js';

const ok = (a: Record<string, string>) => {
  const r = parseAnnotations(a, CONFIG);
  if (!r.ok) throw new Error(`expected ok, got ${r.errors.join(' | ')}`);
  return r.request;
};
const errors = (a: Record<string, string>) => {
  const r = parseAnnotations(a, CONFIG);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
};

describe('readOptIn', () => {
  it('opts in by session-p95 or enabled: "true"', () => {
    expect(readOptIn({ 'ws-drain/session-p95': '5m' }).kind).toBe('opted-in');
    expect(readOptIn({ 'ws-drain/enabled': 'true' }).kind).toBe('opted-in');
  });
  it('enabled: "false" opts out even with other keys', () => {
    expect(readOptIn({ 'ws-drain/enabled': 'false', 'ws-drain/session-p95': 'garbage' }).kind).toBe('opted-out');
  });
  it('no key means not opted in', () => {
    expect(readOptIn({ 'ws-drain/prestop-delay': '5s', other: 'x' }).kind).toBe('not-opted-in');
  });
  it('enabled other than true/false is invalid and names the value', () => {
    const r = readOptIn({ 'ws-drain/enabled': 'yes' });
    expect(r).toEqual({ kind: 'invalid', error: 'ws-drain/enabled: "yes" is not accepted; use "true" or "false"' });
  });
});

describe('parseAnnotations', () => {
  it('fills defaults from the config', () => {
    expect(ok({ 'ws-drain/enabled': 'true' })).toEqual({
      mode: 'drain',
      enforce: 'raise',
      prestopDelaySeconds: 20,
      sessionP95Seconds: 300,
      cleanupSeconds: 10,
      margin: 0.3,
      existingHook: 'auto',
    });
  });

  it('reads every key', () => {
    expect(
      ok({
        'ws-drain/session-p95': '1h30m',
        'ws-drain/prestop-delay': '15s',
        'ws-drain/cleanup': '1.5m',
        'ws-drain/grace-margin': '50%',
        'ws-drain/containers': 'web, api',
        'ws-drain/ports': '8080,metrics',
        'ws-drain/drain-signal': 'SIGUSR1',
        'ws-drain/drain-http': 'POST :8080/drain',
        'ws-drain/mode': 'drain',
        'ws-drain/enforce': 'reject',
        'ws-drain/existing-hook': 'after',
      }),
    ).toEqual({
      mode: 'drain',
      enforce: 'reject',
      existingHook: 'after',
      prestopDelaySeconds: 15,
      sessionP95Seconds: 5400,
      cleanupSeconds: 90,
      margin: 0.5,
      containers: ['web', 'api'],
      ports: [8080, 'metrics'],
      signal: 'SIGUSR1',
      http: { method: 'POST', port: 8080, path: '/drain' },
    });
  });

  it('rounds sub-second durations up to whole seconds', () => {
    const r = ok({ 'ws-drain/session-p95': '500ms', 'ws-drain/prestop-delay': '1.2s' });
    expect(r.sessionP95Seconds).toBe(1);
    expect(r.prestopDelaySeconds).toBe(2);
  });

  it('accepts a bare integer of seconds and 0s delay', () => {
    const r = ok({ 'ws-drain/session-p95': '120', 'ws-drain/prestop-delay': '0s' });
    expect(r.sessionP95Seconds).toBe(120);
    expect(r.prestopDelaySeconds).toBe(0);
  });

  it('names the annotation, the value and the accepted form for a bad duration', () => {
    expect(errors({ 'ws-drain/session-p95': '5 min' })).toEqual([
      'ws-drain/session-p95: "5 min" is not a duration; use a Go/Kubernetes duration such as 90s, 5m, 1h30m, or a whole number of seconds',
    ]);
  });

  it.each([
    ['ws-drain/prestop-delay', '-5s'],
    ['ws-drain/cleanup', 'ten'],
    ['ws-drain/session-p95', '5d'],
  ])('rejects %s: %s', (key, value) => {
    const e = errors({ 'ws-drain/enabled': 'true', [key]: value });
    expect(e).toHaveLength(1);
    expect(e[0]).toContain(`${key}: ${JSON.stringify(value)} is not a duration`);
  });

  it('session-p95 must be > 0 in drain mode, may be 0 in sleep mode', () => {
    expect(errors({ 'ws-drain/session-p95': '0s' })[0]).toMatch(/session-p95: "0s" must be longer than 0s in drain mode/);
    expect(ok({ 'ws-drain/session-p95': '0s', 'ws-drain/mode': 'sleep' }).sessionP95Seconds).toBe(0);
  });

  it('collects every error, not only the first', () => {
    const e = errors({
      'ws-drain/session-p95': 'x',
      'ws-drain/cleanup': 'y',
      'ws-drain/grace-margin': '30',
      'ws-drain/mode': 'fast',
      'ws-drain/enforce': 'maybe',
      'ws-drain/drain-signal': 'USR1',
      'ws-drain/drain-http': 'http://10.0.0.1:80/drain',
      'ws-drain/ports': '0',
      'ws-drain/containers': 'Web',
    });
    expect(e).toHaveLength(9);
    expect(e.join('\n')).toContain('ws-drain/mode: "fast" is not accepted; use one of drain, sleep');
    expect(e.join('\n')).toContain('ws-drain/enforce: "maybe" is not accepted; use one of raise, reject, warn');
    expect(e.join('\n')).toContain('ws-drain/drain-signal: "USR1" is not accepted; use one of SIGQUIT, SIGUSR2, SIGTERM, SIGHUP, SIGINT, SIGUSR1');
    expect(e.join('\n')).toContain('ws-drain/grace-margin: "30" is not a margin; use a percentage such as 30%');
  });

  it('allows the keys ws-drain writes itself', () => {
    expect(() => ok({ 'ws-drain/session-p95': '5m', 'ws-drain/injected': '0.1.0', 'ws-drain/plan': '{}' })).not.toThrow();
  });

  it('ignores annotations of other prefixes', () => {
    expect(() => ok({ 'ws-drain/session-p95': '5m', 'example.com/ws-drain': 'x', 'ws-drain.io/x': 'y' })).not.toThrow();
  });

  it.each(['', 'a,,b', 'web,', 'Web', 'web_1'])('rejects containers list %j', (value) => {
    expect(errors({ 'ws-drain/session-p95': '5m', 'ws-drain/containers': value })[0]).toMatch(/^ws-drain\/containers: /);
  });

  it.each(['0', '65536', '80,', 'HTTP', 'a_b', '8080-8090', 'averyveryverylongname'])('rejects ports list %j', (value) => {
    expect(errors({ 'ws-drain/session-p95': '5m', 'ws-drain/ports': value })[0]).toMatch(/^ws-drain\/ports: /);
  });

  it.each(['', 'a,,b', 'tls,', 'Edge', 'edge_tls'])('rejects proxies list %j', (value) => {
    expect(errors({ 'ws-drain/session-p95': '5m', 'ws-drain/proxies': value })[0]).toBe(
      `ws-drain/proxies: ${JSON.stringify(value)} is not accepted; use a comma-separated list of container names such as "tls-terminator"`,
    );
  });

  it('reads proxies as a deduplicated list of names', () => {
    expect(ok({ 'ws-drain/session-p95': '5m', 'ws-drain/proxies': ' edge , auth,edge' }).proxies).toEqual(['edge', 'auth']);
  });

  it('dedupes ports and containers', () => {
    const r = ok({ 'ws-drain/session-p95': '5m', 'ws-drain/ports': '80,80,http', 'ws-drain/containers': 'a,a' });
    expect(r.ports).toEqual([80, 'http']);
    expect(r.containers).toEqual(['a']);
  });

  it('rejects drain-signal and drain-http in sleep mode instead of ignoring them', () => {
    const e = errors({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'sleep', 'ws-drain/drain-signal': 'SIGUSR1' });
    expect(e).toEqual(['ws-drain/drain-signal has no effect with ws-drain/mode: sleep; remove it or use mode drain']);
  });

  it('quotes control characters and bounds long values in messages', () => {
    const e = errors({ 'ws-drain/session-p95': 'a\nb' + 'x'.repeat(200) });
    expect(e[0]).toContain('"a\\nb');
    expect(e[0]!.length).toBeLessThan(250);
  });
});

describe('parseDrainHttp', () => {
  it.each([
    [':8080/drain', { method: 'GET', port: 8080, path: '/drain' }],
    ['POST :8080/drain', { method: 'POST', port: 8080, path: '/drain' }],
    ['post :9000', { method: 'POST', port: 9000, path: '/' }],
    ['http://127.0.0.1:8080/admin/drain?now=1', { method: 'GET', port: 8080, path: '/admin/drain?now=1' }],
    ['PUT http://localhost:81/x', { method: 'PUT', port: 81, path: '/x' }],
  ])('accepts %j', (text, call) => {
    expect(parseDrainHttp(text)).toEqual(call);
  });

  it.each([
    'http://10.0.0.1:8080/drain',
    'http://example.com:80/drain',
    'https://127.0.0.1:8443/drain',
    ':0/x',
    ':70000/x',
    'TRACE :8080/x',
    ':8080/a b',
    ':8080/a"b',
    '8080/drain',
    'POST',
    ':http/drain',
    '; rm -rf / :8080/x',
  ])('rejects %j', (text) => {
    expect(parseDrainHttp(text)).toBeUndefined();
  });
});
