// The list + watch client against a scripted HTTPS server on loopback: what a
// real API server does (pages, bookmarks, a server-side end, 410 Gone) and
// what it never does (an endless event line, garbage, a silent connection,
// an oversized page). test/e2e/namespaces.test.ts runs the same client
// against a real kube-apiserver.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { inClusterConnection } from '../../src/kube/in-cluster.js';
import { startListWatch, type ListWatch, type ListWatchOptions } from '../../src/kube/list-watch.js';

const Ns = z.object({ metadata: z.object({ name: z.string(), resourceVersion: z.string().optional() }) });
type Ns = z.infer<typeof Ns>;

interface Seen {
  query: URLSearchParams;
  watch: boolean;
  token: string | undefined;
  res: ServerResponse;
  req: IncomingMessage;
}
/** Answers one request; unanswered requests (a queue run dry) are held open, as an idle watch is. */
type Script = (s: Seen) => void;

let server: Server;
let dir = '';
let port = 0;
const seen: Seen[] = [];
let script: Script[] = [];
let onRequest: (() => void) | undefined;

beforeAll(async () => {
  const pems = await generateDevCerts({ hosts: ['127.0.0.1'], commonName: 'fake-apiserver' });
  dir = await mkdtemp(join(tmpdir(), 'ws-drain-list-watch-'));
  await writeFile(join(dir, 'ca.crt'), pems.caCert);
  await writeFile(join(dir, 'token'), 'token-1\n');
  server = createServer({ cert: pems.tlsCert, key: pems.tlsKey }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    expect(url.pathname).toBe('/api/v1/namespaces');
    const s: Seen = { query: url.searchParams, watch: url.searchParams.get('watch') === '1', token: req.headers.authorization?.replace(/^Bearer /, ''), res, req };
    seen.push(s);
    script.shift()?.(s);
    onRequest?.();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

let running: ListWatch<Ns> | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
  server.closeAllConnections();
  seen.length = 0;
  script = [];
  await writeFile(join(dir, 'token'), 'token-1\n');
});

const ns = (name: string, rv: string) => ({ kind: 'Namespace', metadata: { name, resourceVersion: rv, labels: { a: 'b' } }, spec: {} });
const list = (rv: string, items: unknown[], cont?: string): Script => (s) => s.res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'NamespaceList', metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) }, items }));
const event = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;
/** A watch answer that sends `lines` and then, with `end`, ends as at the server's timeout. */
const watch = (lines: string[], end = false): Script => (s) => {
  s.res.writeHead(200, { 'content-type': 'application/json' });
  s.res.flushHeaders();
  for (const l of lines) s.res.write(l);
  if (end) s.res.end();
};

/** What the handlers heard, in order, and a way to wait for a condition on it (no timers: vitest's timeout bounds the wait). */
function start(extra: Partial<ListWatchOptions<Ns>> = {}) {
  const heard: string[] = [];
  const errors: string[] = [];
  let wake: (() => void) | undefined;
  const note = (s: string): void => {
    heard.push(s);
    wake?.();
  };
  const until = async (what: () => boolean): Promise<void> => {
    while (!what()) await new Promise<void>((r) => (wake = onRequest = r));
  };
  running = startListWatch({
    connection: inClusterConnection({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, dir }),
    path: '/api/v1/namespaces',
    schema: Ns,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    handlers: {
      add: (o) => note(`add ${o.metadata.name}`),
      update: (o) => note(`update ${o.metadata.name}`),
      delete: (o) => note(`delete ${o.metadata.name}`),
      listed: (n) => note(`listed ${n}`),
      error: (e) => {
        errors.push(e.message);
        note('error');
      },
      recovered: () => note('recovered'),
      expired: (rv) => note(`expired ${rv}`),
    },
    ...extra,
  });
  return { heard, errors, until, lw: running };
}

describe('list + watch', () => {
  it('lists page by page, watches from the list with bookmarks and a 5-10 min server timeout, and opens a watch the server ended from the last bookmark without an error', async () => {
    script = [list('100', [ns('a', '90')], 'page-2'), list('100', [ns('b', '95')]), watch([event('ADDED', ns('c', '101')), event('BOOKMARK', { kind: 'Namespace', metadata: { resourceVersion: '150' } })], true), watch([])];
    const { heard, errors, until, lw } = start();
    await until(() => seen.length === 4);
    expect(seen.map((s) => [s.watch, s.query.get('limit'), s.query.get('continue')])).toEqual([
      [false, '500', null],
      [false, '500', 'page-2'],
      [true, null, null],
      [true, null, null],
    ]);
    const [first, second] = [seen[2]!.query, seen[3]!.query];
    expect([first.get('resourceVersion'), first.get('allowWatchBookmarks')]).toEqual(['100', 'true']);
    expect(Number(first.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(Number(first.get('timeoutSeconds'))).toBeLessThan(600);
    expect(second.get('resourceVersion')).toBe('150');
    expect(heard).toEqual(['add a', 'add b', 'listed 2', 'add c']);
    expect(errors).toEqual([]);
    expect(lw.get('c')).toEqual({ metadata: { name: 'c', resourceVersion: '101' } });
  });

  it('after an ERROR event with code 410, lists again and replaces the store: what the new list lacks is reported deleted', async () => {
    script = [
      list('10', [ns('a', '5'), ns('b', '6')]),
      watch([event('MODIFIED', ns('a', '11')), event('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 11 (20)' })]),
      list('30', [ns('a', '21'), ns('c', '22')]),
      watch([]),
    ];
    const { heard, errors, until, lw } = start();
    await until(() => seen.length === 4);
    expect(heard).toEqual(['add a', 'add b', 'listed 2', 'update a', 'expired 11', 'delete b', 'update a', 'add c', 'listed 2']);
    expect(errors).toEqual([]);
    expect(seen[3]!.query.get('resourceVersion')).toBe('30');
    expect(lw.get('b')).toBeUndefined();
  });

  it('after a 410 Gone answer to a watch, lists again', async () => {
    script = [list('10', []), watch([event('ADDED', ns('a', '11'))], true), (s) => s.res.writeHead(410).end('{"kind":"Status","code":410}'), list('40', [ns('a', '12')]), watch([])];
    const { heard, errors, until } = start();
    await until(() => seen.length === 5);
    expect(heard).toEqual(['listed 0', 'add a', 'expired 11', 'update a', 'listed 1']);
    expect(errors).toEqual([]);
  });

  it('an event line past the cap: the connection is closed rather than read on, the error reported, and the next attempt lists again', async () => {
    let written = 0;
    let hungUp = false;
    const endless: Script = (s) => {
      s.res.on('close', () => {
        hungUp = true;
        onRequest?.();
      });
      s.res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        while (!s.res.destroyed && s.res.write(chunk)) written += chunk.length;
      };
      s.res.on('drain', pump);
      pump();
    };
    script = [list('1', []), endless, list('2', []), watch([])];
    const { errors, until } = start({ maxEventBytes: 1024 * 1024 });
    await until(() => seen.length === 4 && hungUp);
    expect(errors).toEqual(['watch /api/v1/namespaces: a watch event line is longer than 1048576 bytes']);
    expect(seen[2]!.watch).toBe(false);
    // What the server got out before the client hung up: the cap plus socket buffers, not an unbounded stream.
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  it('garbage in a watch is an error (named), and the next attempt lists again', async () => {
    script = [list('1', []), watch(['<html>proxy error</html>\n']), list('2', []), watch([])];
    const { errors, until } = start();
    await until(() => seen.length === 4);
    expect(errors).toEqual(['watch /api/v1/namespaces: a watch event is not JSON: "<html>proxy error</html>"']);
    expect(seen[2]!.watch).toBe(false);
  });

  it('reads the token file again for every request (the kubelet rotates it)', async () => {
    script = [list('1', []), watch([])];
    const { until } = start();
    await until(() => seen.length === 2);
    await writeFile(join(dir, 'token'), 'token-2\n');
    script = [watch([])];
    seen[1]!.res.end(event('BOOKMARK', { metadata: { resourceVersion: '5' } }));
    await until(() => seen.length === 3);
    expect(seen[2]!.query.get('resourceVersion')).toBe('5');
    expect(seen.map((s) => s.token)).toEqual(['token-1', 'token-1', 'token-2']);
  });

  it('a list answer past the byte cap is an error, and the next list asks for fewer objects per page', async () => {
    const big = Array.from({ length: 100 }, (_, i) => ns(`ns-${i}`, '1'));
    script = [list('1', big), list('1', big.slice(0, 1)), watch([])];
    const { errors, heard, until } = start({ maxPageBytes: 4 * 1024 });
    await until(() => seen.length === 3);
    expect(errors).toEqual(['list /api/v1/namespaces: a page of 500 objects is over 4096 bytes; the next list asks for 50']);
    expect(seen.map((s) => s.query.get('limit'))).toEqual(['500', '50', null]);
    expect(heard).toEqual(['error', 'add ns-0', 'listed 1', 'recovered']);
  });

  it('an API server error answer is reported with its Status message and retried; success after it is reported once', async () => {
    const forbidden: Script = (s) => s.res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'namespaces is forbidden: User "system:serviceaccount:x:y" cannot list resource "namespaces"' }));
    script = [forbidden, list('1', []), watch([])];
    const { errors, heard, until } = start();
    await until(() => seen.length === 3);
    expect(errors).toEqual(['list /api/v1/namespaces: HTTP 403: namespaces is forbidden: User "system:serviceaccount:x:y" cannot list resource "namespaces"']);
    expect(heard).toEqual(['error', 'listed 0', 'recovered']);
  });

  it('a watch the server closes at once with nothing in it is an error, not a tight loop of re-watches', async () => {
    script = [list('1', []), watch([], true), watch([])];
    const { errors, until } = start();
    await until(() => seen.length === 3);
    expect(errors).toEqual(['watch /api/v1/namespaces: closed at once with no event']);
    expect(seen[2]!.query.get('resourceVersion')).toBe('1');
  });

  it('a watch connection that goes silent past its timeout is cut and opened again from the same resourceVersion', async () => {
    script = [list('7', []), watch([]), watch([])];
    const { errors, until } = start({ minWatchSeconds: 1, watchIdleGraceMs: 0 });
    await until(() => seen.length === 3);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^watch \/api\/v1\/namespaces: nothing from the API server for [12] s$/);
    expect(seen[2]!.query.get('resourceVersion')).toBe('7');
  });

  it('stop() ends a watch in progress and makes no further request', async () => {
    script = [list('1', []), watch([])];
    const { until, lw } = start();
    await until(() => seen.length === 2);
    const closed = once(seen[1]!.res, 'close');
    await lw.stop();
    await closed;
    expect(seen).toHaveLength(2);
  });
});
