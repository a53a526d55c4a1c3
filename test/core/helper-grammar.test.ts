// One grammar on both sides (issue 12 item 5): every helper command line the
// webhook injects is accepted, flag by flag, by the real helper binary's own
// parser (`ws-drain-helper prestop --check`, exit 0 only when no flag is
// ignored). The pods are generated with hostile hook paths, hosts and headers
// and drain-http values; whatever is admitted must pass.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { HELPER_BINARY } from '../../src/core/types.js';
import { CONFIG, type Json } from './pod-builders.js';

const HELPER_DIR = resolve(import.meta.dirname, '../../helper');
let dir: string;
let helper: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-drain-grammar-'));
  helper = join(dir, 'ws-drain-helper');
  // A fresh build of this checkout's parser (never a stale helper/bin).
  const r = spawnSync('go', ['build', '-o', helper, '.'], { cwd: HELPER_DIR, encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0' } });
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the helper's parser on an injected argv; '' when it accepts every flag. */
function helperRefuses(argv: string[]): string {
  expect(argv[0]).toBe(HELPER_BINARY);
  expect(argv[1]).toBe('prestop');
  const r = spawnSync(helper, ['prestop', '--check', ...argv.slice(2)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return r.status === 0 ? '' : `exit ${String(r.status)}: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`;
}

function injectedArgvs(pod: unknown): string[][] {
  const d = decide(pod, 'default', CONFIG);
  if (d.kind !== 'mutate') return [];
  const spec = (d.pod as { spec: { containers: Json[] } }).spec;
  return spec.containers
    .map((c) => ((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)
    .filter((e): e is { command: string[] } => e?.command?.[0] === HELPER_BINARY)
    .map((e) => e.command);
}

// Text a user can put into a hook or an annotation, weighted towards what broke before.
const nasty = fc.oneof(
  fc.constantFrom('%', '%zz', '%2', '%25', '%41', 'a b', '\r\n', '\n', '\t', '#frag', '?q=1 2', 'é', '😀', '[', ']', ':', '@', "'", '"', '\\', '\u0000', '\u007f'),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const pathArb = fc.array(fc.oneof(fc.constantFrom('drain', 'stop', '/', 'a-b', 'x.y'), nasty), { maxLength: 5 }).map((parts) => parts.join(''));
const hostArb = fc.oneof(
  fc.constantFrom(undefined, '', '127.0.0.1', 'localhost', '::1', '[::1]', 'fe80::1%eth0', 'fe80::1%25eth0', 'app.svc', 'a b', 'x/y', 'h:1', '10.0.0.1 ', '-bad', ':', '[:]', ':::', '1::2::3', 'fe80::1%'),
  nasty,
);
const headerArb = fc.record({ name: fc.oneof(fc.constantFrom('X-A', 'Authorization', 'X A', 'X:A', ''), nasty), value: fc.oneof(fc.constantFrom('v', ''), nasty) });
const drainHttpArb = fc.oneof(
  pathArb.map((p) => `POST :8080/${p}`),
  pathArb.map((p) => `http://127.0.0.1:9000/${p}`),
  fc.constantFrom(':8080/drain%', ':8080/%zz', ':8080/drain%25', 'GET :8080/d?x=%41'),
);

const hostilePod = fc
  .record({
    path: fc.option(pathArb, { nil: undefined }),
    host: hostArb,
    headers: fc.array(headerArb, { maxLength: 3 }),
    drainHttp: fc.option(drainHttpArb, { nil: undefined }),
    exec: fc.option(fc.array(nasty, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    name: fc.constantFrom('web', 'a', 'ws-1'),
  })
  .map(({ path, host, headers, drainHttp, exec, name }) => {
    const annotations: Record<string, string> = { 'ws-drain/session-p95': '1m', 'ws-drain/drain-signal': 'SIGTERM' };
    if (drainHttp !== undefined) annotations['ws-drain/drain-http'] = drainHttp;
    const httpGet: Json = { port: 8080, httpHeaders: headers };
    if (path !== undefined) httpGet['path'] = path;
    if (host !== undefined) httpGet['host'] = host;
    const preStop = exec ? { exec: { command: exec } } : { httpGet };
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'g', annotations },
      spec: { containers: [{ name, image: 'x', ports: [{ containerPort: 8080 }], lifecycle: { preStop } }, { name: 'side', image: 'y', ports: [{ containerPort: 9000 }] }] },
    } as Json;
  });

describe('what the webhook admits, the helper accepts', () => {
  it('every injected argv for generated hostile pods passes the helper parser (fixed seed, bounded count)', () => {
    let checked = 0;
    fc.assert(
      fc.property(hostilePod, (pod) => {
        for (const argv of injectedArgvs(pod)) {
          expect(helperRefuses(argv), JSON.stringify(argv)).toBe('');
          checked++;
        }
      }),
      { numRuns: 300, seed: 12 },
    );
    // Enough of them were admitted for the property to mean something.
    expect(checked).toBeGreaterThan(150);
  }, 180_000); // one helper process per argv: a hang guard for a loaded machine, not a timing

  it('the cases from the adversarial run: admitted ones parse, the rest are denied with the reason', () => {
    const pod = (annotations: Record<string, string>, httpGet?: Json): Json => ({
      metadata: { annotations: { 'ws-drain/session-p95': '1m', ...annotations } },
      spec: { containers: [{ name: 'web', image: 'x', ports: [{ containerPort: 8080 }], ...(httpGet ? { lifecycle: { preStop: { httpGet } } } : {}) }] },
    });
    const denied = (p: Json): string => {
      const d = decide(p, 'default', CONFIG);
      return d.kind === 'deny' ? d.message : '';
    };
    expect(denied(pod({ 'ws-drain/drain-http': 'POST :8080/drain%' }))).toMatch(/drain-http.*a % only as a %XX escape/);
    expect(denied(pod({ 'ws-drain/drain-http': ':8080/%zz' }))).toMatch(/drain-http/);
    expect(denied(pod({}, { port: 8080, host: 'a b' }))).toMatch(/host "a b" is not a host name or IP address/);
    expect(denied(pod({}, { port: 8080, httpHeaders: [{ name: 'X-A', value: 'a\r\nEvil: 1' }] }))).toMatch(/control character/);
    // Kubelet sends these, so they are admitted and must reach the helper intact.
    for (const httpGet of [{ port: 8080, path: '/drain%' }, { port: 8080, path: '/%zz' }, { port: 8080, host: 'fe80::1%eth0' }, { port: 8080, path: '/a b?x=1 2#f' }]) {
      const argvs = injectedArgvs(pod({}, httpGet));
      expect(argvs, JSON.stringify(httpGet)).toHaveLength(1);
      expect(helperRefuses(argvs[0] as string[]), JSON.stringify(argvs[0])).toBe('');
    }
    expect(injectedArgvs(pod({}, { port: 8080, path: '/drain%' }))[0]).toContain('--hook-url=http://127.0.0.1:8080/drain%25');
  }, 60_000);
});
