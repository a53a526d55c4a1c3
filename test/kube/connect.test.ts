// Where serve's namespace informer connects: the pod's service account files
// (read again for each request) or a kubeconfig, in kubectl's precedence.
// test/e2e/namespaces.test.ts uses both against a real kube-apiserver.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectToCluster } from '../../src/kube/connect.js';
import { apiUrl } from '../../src/kube/connection.js';
import { inClusterConnection } from '../../src/kube/in-cluster.js';

let dir = '';
const pod = (host: string, port = '443') => ({ KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ws-drain-connect-'));
  await writeFile(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n');
  await writeFile(join(dir, 'token'), 'first\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('in-cluster connection', () => {
  it('addresses the API server from KUBERNETES_SERVICE_HOST/PORT, an IPv6 address in brackets', () => {
    expect(inClusterConnection({ env: pod('10.96.0.1'), dir }).server).toBe('https://10.96.0.1:443');
    expect(inClusterConnection({ env: pod('fd00:10:96::1', '6443'), dir }).server).toBe('https://[fd00:10:96::1]:6443');
    expect(inClusterConnection({ env: pod('kubernetes.default.svc'), dir }).server).toBe('https://kubernetes.default.svc:443');
  });

  it('refuses to start without the variables, with a bad port, or without the token or CA file', async () => {
    expect(() => inClusterConnection({ env: {}, dir })).toThrow(/not in a pod \(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset\)/);
    expect(() => inClusterConnection({ env: pod('10.0.0.1', 'https'), dir })).toThrow('KUBERNETES_SERVICE_PORT="https" is not a port');
    expect(() => inClusterConnection({ env: pod('10.0.0.1', '70000'), dir })).toThrow('is not a port');
    const empty = await mkdtemp(join(tmpdir(), 'ws-drain-no-sa-'));
    try {
      expect(() => inClusterConnection({ env: pod('10.0.0.1'), dir: empty })).toThrow(`no service account ${join(empty, 'token')}`);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('reads the token and CA again for every request, so a token the kubelet rotated is used at once', async () => {
    const conn = inClusterConnection({ env: pod('10.96.0.1'), dir });
    const first = await conn.requestFor('/api/v1/namespaces?limit=500');
    expect(first.url.href).toBe('https://10.96.0.1/api/v1/namespaces?limit=500');
    expect(first.options.headers).toEqual({ authorization: 'Bearer first' });
    expect(String(first.options.ca)).toContain('not parsed here');
    await writeFile(join(dir, 'token'), 'second');
    expect((await conn.requestFor('/api/v1/namespaces')).options.headers).toEqual({ authorization: 'Bearer second' });
    await writeFile(join(dir, 'token'), '\n');
    await expect(conn.requestFor('/api/v1/namespaces')).rejects.toThrow('not a bearer token');
    await writeFile(join(dir, 'token'), 'first\n');
  });
});

describe('apiUrl', () => {
  it('keeps a path prefix of the server URL (an API server behind a proxy)', () => {
    expect(apiUrl('https://rancher.example/k8s/clusters/c-1', '/api/v1/namespaces?watch=1').href).toBe('https://rancher.example/k8s/clusters/c-1/api/v1/namespaces?watch=1');
    expect(apiUrl('https://10.0.0.1:6443/', '/api/v1/namespaces').href).toBe('https://10.0.0.1:6443/api/v1/namespaces');
  });
});

describe('connectToCluster: which source', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['KUBECONFIG', 'HOME', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const kubeconfig = (server: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server } }],
      users: [{ name: 'u', user: { token: 'from-kubeconfig' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    });

  it('--kubeconfig, then $KUBECONFIG, then ~/.kube/config, then the service account', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), kubeconfig('https://home.example:6443'));
    await writeFile(join(dir, 'flag.kubeconfig'), kubeconfig('https://flag.example:6443'));
    await writeFile(join(dir, 'env.kubeconfig'), kubeconfig('https://env.example:6443'));
    Object.assign(process.env, { HOME: home, KUBECONFIG: join(dir, 'env.kubeconfig'), ...pod('10.96.0.1') });
    const server = async (kc?: string) => (await connectToCluster({ kubeconfig: kc, serviceAccountDir: dir })).server;
    expect(await server(join(dir, 'flag.kubeconfig'))).toBe('https://flag.example:6443');
    expect(await server()).toBe('https://env.example:6443');
    delete process.env['KUBECONFIG'];
    expect(await server()).toBe('https://home.example:6443');
    process.env['HOME'] = dir;
    expect(await server()).toBe('https://10.96.0.1:443');
    // A kubeconfig's credentials come from client-node's option builder.
    const conn = await connectToCluster({ kubeconfig: join(dir, 'flag.kubeconfig') });
    const { url, options } = await conn.requestFor('/api/v1/namespaces');
    expect([url.href, (options.headers as Record<string, string>)['Authorization']]).toEqual(['https://flag.example:6443/api/v1/namespaces', 'Bearer from-kubeconfig']);
  });

  it('says what it looked for when there is nothing', async () => {
    Object.assign(process.env, { HOME: dir });
    delete process.env['KUBECONFIG'];
    delete process.env['KUBERNETES_SERVICE_HOST'];
    await expect(connectToCluster({ serviceAccountDir: dir })).rejects.toThrow('no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a pod');
    await expect(connectToCluster({ kubeconfig: join(dir, 'missing') })).rejects.toThrow(`cannot load the kubeconfig ${join(dir, 'missing')}`);
  });
});
