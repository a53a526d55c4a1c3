// The webhook over real TLS, with certificates from the certs module.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../../src/certs/dev-certs.js';
import { startWebhook, type RunningWebhook } from '../../src/server/serve.js';
import { admissionReview, capturingLogger, getMetrics, localWebhookOptions } from './review-fixtures.js';

interface Reply {
  status: number;
  body: string;
  peerFingerprint: string;
  protocol: string | null;
}

function call(port: number, ca: string, method: string, path: string, body?: string, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, method, path, ca, agent: agent ?? false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerX509Certificate?.();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), peerFingerprint: peer?.fingerprint256 ?? '', protocol: socket.getProtocol() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let dir: string;
let pems: DevCertPems;
const running: RunningWebhook[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ws-drain-tls-'));
  pems = await generateDevCerts({ hosts: ['localhost'] });
  await writeDevCerts(dir, pems);
  return () => rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.close()));
});

async function start(extra: Partial<Parameters<typeof startWebhook>[0]> = {}) {
  const { logger, lines } = capturingLogger();
  const w = await startWebhook(localWebhookOptions(dir, { logger, ...extra }));
  running.push(w);
  return { w, lines };
}

describe('webhook over TLS', () => {
  it('serves /mutate over TLS >= 1.2 with a certificate the dev CA verifies, and exposes metrics over HTTP', async () => {
    const { w } = await start();
    const reply = await call(w.port, pems.caCert, 'POST', '/mutate', JSON.stringify(admissionReview({ uid: 'tls-1' })));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).response).toMatchObject({ uid: 'tls-1', allowed: true, patchType: 'JSONPatch' });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(reply.protocol);
    expect(reply.peerFingerprint).toBe(new X509Certificate(pems.tlsCert).fingerprint256);
    expect((await call(w.port, pems.caCert, 'GET', '/healthz')).status).toBe(200);

    const metrics = await getMetrics(w.metricsPort!);
    expect(metrics).toMatch(/^ws_drain_admission_requests_total\{outcome="mutated"\} 1$/m);
    expect(metrics).toMatch(/^ws_drain_injections_total 1$/m);
    expect(metrics).toMatch(/^ws_drain_admission_duration_seconds_count\{outcome="mutated"\} 1$/m);
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('presents a new certificate after the files are replaced (symlink-swap style), without restart', async () => {
    const { w, lines } = await start();
    const before = await call(w.port, pems.caCert, 'GET', '/healthz');
    expect(before.peerFingerprint).toBe(new X509Certificate(pems.tlsCert).fingerprint256);

    const next = await generateDevCerts({ hosts: ['localhost'] });
    // Write both files beside the old ones, then rename over them, like kubelet's atomic writer.
    await writeFile(join(dir, 'tls.crt.new'), next.tlsCert);
    await writeFile(join(dir, 'tls.key.new'), next.tlsKey);
    await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    await rename(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    await w.reloadTls();

    const after = await call(w.port, next.caCert, 'GET', '/healthz');
    expect(after.status).toBe(200);
    expect(after.peerFingerprint).toBe(new X509Certificate(next.tlsCert).fingerprint256);
    expect(lines.some((l) => l['msg'] === 'reloaded TLS certificate')).toBe(true);
    pems = next;
  });

  it('picks up changed files by polling on its own', async () => {
    const { w } = await start({ tlsReloadIntervalMs: 100 });
    const next = await generateDevCerts({ hosts: ['localhost'] });
    await writeDevCerts(dir, next);
    const want = new X509Certificate(next.tlsCert).fingerprint256;
    let seen = '';
    for (let i = 0; i < 100 && seen !== want; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = (await call(w.port, next.caCert, 'GET', '/healthz').catch(() => ({ peerFingerprint: '' }))).peerFingerprint;
    }
    expect(seen).toBe(want);
    pems = next;
  });

  it('keeps the old certificate and logs an error when the new key does not match the new certificate', async () => {
    const { w, lines } = await start();
    const other = await generateDevCerts({ hosts: ['localhost'] });
    await writeFile(join(dir, 'tls.crt'), other.tlsCert);
    await writeFile(join(dir, 'tls.key'), pems.tlsKey); // old key, new cert: mismatch
    await w.reloadTls();
    const reply = await call(w.port, pems.caCert, 'GET', '/healthz');
    expect(reply.status).toBe(200);
    expect(reply.peerFingerprint).toBe(new X509Certificate(pems.tlsCert).fingerprint256);
    expect(lines.some((l) => l['level'] === 50 && String(l['msg']).includes('keeping the current one'))).toBe(true);
    await writeDevCerts(dir, pems);
  });
});

describe('shutdown', () => {
  it('turns readyz 503 at once, lets an in-flight request finish, then stops accepting', async () => {
    const { w } = await start({ shutdownDelayMs: 300, shutdownTimeoutMs: 5_000 });
    const agent = new Agent({ keepAlive: true, ca: pems.caCert, maxSockets: 1 });
    expect((await call(w.port, pems.caCert, 'GET', '/readyz', undefined, agent)).status).toBe(200);

    // An admission request whose body is still arriving when shutdown begins.
    const body = JSON.stringify(admissionReview({ uid: 'in-flight' }));
    const inFlight = new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: w.port, method: 'POST', path: '/mutate', ca: pems.caCert, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peerFingerprint: '', protocol: null }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 100));
      setTimeout(() => req.end(body.slice(100)), 600);
    });
    await new Promise((r) => setTimeout(r, 100));

    const closed = w.close();
    expect((await call(w.port, pems.caCert, 'GET', '/readyz', undefined, agent)).status).toBe(503);
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).response.uid).toBe('in-flight');
    await closed;
    await expect(call(w.port, pems.caCert, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });
});
