// The fetch layer against a real HTTP server on loopback: lists are read page
// by page (limit/continue) and only with GET, a 403 on a cluster-wide list
// falls back to the namespaces in scope, and an API that is not served is
// absent (optional) or reported (required).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSnapshot, KubeReader } from '../../src/check/fetch.js';

const requests: Array<{ method: string; url: string }> = [];
let server: Server;
let reader: KubeReader;

const pod = (ns: string, name: string) => ({ metadata: { name, namespace: ns }, spec: { containers: [{ name: 'app' }] } });

function answer(req: IncomingMessage): { status: number; body: unknown } {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  if (p === '/api/v1/namespaces/a/pods') {
    // Two pages: the client must follow `continue`.
    if (url.searchParams.get('continue') === 'page2') return { status: 200, body: { items: [pod('a', 'p2')], metadata: {} } };
    return { status: 200, body: { items: [pod('a', 'p1')], metadata: { continue: 'page2' } } };
  }
  // Deployments are listed cluster-wide (the webhook and controllers live elsewhere); forbidden → per namespace in scope.
  if (p === '/apis/apps/v1/deployments') return { status: 403, body: { kind: 'Status', message: 'deployments.apps is forbidden' } };
  if (p === '/apis/apps/v1/namespaces/a/deployments') return { status: 200, body: { items: [{ metadata: { name: 'd', namespace: 'a' }, spec: { template: { spec: { containers: [{ name: 'c' }] } } } }] } };
  if (p === '/api/v1/nodes') return { status: 403, body: { kind: 'Status', message: 'nodes is forbidden: User "viewer" cannot list resource "nodes"' } };
  if (p.startsWith('/apis/gateway.networking.k8s.io') || p.startsWith('/apis/argoproj.io') || p.startsWith('/apis/cloud.google.com')) return { status: 404, body: { kind: 'Status' } };
  return { status: 200, body: { items: [] } };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    const { status, body } = answer(req);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  reader = new KubeReader(kc);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('fetchSnapshot', () => {
  it('follows continue, falls back to the scope on 403, reports what it cannot read, and only sends GETs', async () => {
    const s = await fetchSnapshot(reader, { scope: ['a'], now: new Date(0) });
    expect(s.pods.map((p) => p.metadata.name)).toEqual(['p1', 'p2']);
    expect(requests.some((r) => r.url.includes('continue=page2'))).toBe(true);
    expect(s.deployments.map((x) => x.metadata.name)).toEqual(['d']);
    expect(s.unreadable).toEqual([{ resource: 'nodes', reason: expect.stringContaining('403 nodes is forbidden') }]);
    expect(s.httpRoutes).toEqual([]);
    expect(new Set(requests.map((r) => r.method))).toEqual(new Set(['GET']));
  });
});

describe('KubeReader', () => {
  it('keeps the path prefix of a server URL (an API server behind a proxy, as Rancher serves clusters)', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}/k8s/clusters/c-1/`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const before = requests.length;
    await new KubeReader(kc).list('/api/v1/namespaces/a/pods');
    expect(requests.slice(before).map((r) => r.url)).toEqual(['/k8s/clusters/c-1/api/v1/namespaces/a/pods?limit=500']);
  });
});
