// `ws-drain serve --workers 2` as a real process tree (src/server/cluster.ts):
// both workers answer (large reviews on their own review threads), /metrics
// sums them, a certificate change reaches every
// worker, a dead worker is replaced, and SIGTERM drains all of them (readyz 503
// on every worker first, every admission line written, exit 0).
import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { admissionReview, getMetrics } from '../server/review-fixtures.js';
import { childPids, startServe, type LogLine, type ServeProcess } from './serve-process.js';

// Spawning tsx processes takes seconds on a loaded machine: a harness bound, not a performance assertion.
const TIMEOUT_MS = 180_000;

/** The certificate presented on a new TLS connection. */
function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

const workerIds = (lines: LogLine[], msg: string) => new Set(lines.filter((l) => l['msg'] === msg).map((l) => l['worker']));

describe('ws-drain serve --workers 2', { timeout: TIMEOUT_MS }, () => {
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await serve?.cleanup();
    serve = undefined;
  });

  it('answers on both workers, sums their metrics, and on SIGTERM turns readyz 503 on every worker, writes every line, exits 0', async () => {
    // A delay long enough that the listener is still open while readyz is checked, on a busy machine too.
    serve = await startServe(['--workers', '2', '--shutdown-delay', '15s', '--tls-reload-interval', '1h']);
    const s = serve;
    expect((await s.waitForLine((l) => l['msg'] === 'ws-drain webhook listening' && l['workers'] === 2))['port']).toBe(s.port);
    // A new connection per request: the primary hands connections to the workers in turn.
    s.agent.destroy();
    const uids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const uid = `workers-${i}`;
      const res = await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid })), { newConnection: true });
      expect(res.status).toBe(200);
      uids.push(uid);
    }
    // Reviews over 64 KiB: answered on each worker's own review thread.
    const containers = Array.from({ length: 1200 }, (_, i) => ({ name: `c${i}`, image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }));
    const big = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'c1' } }, spec: { containers } };
    for (let i = 0; i < 2; i++) {
      const uid = `workers-big-${i}`;
      const res = await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid, object: big })), { newConnection: true });
      expect(res.status).toBe(200);
      uids.push(uid);
    }
    const metrics = await getMetrics(s.metricsPort);
    expect(metrics).toMatch(/^ws_drain_admission_requests_total\{outcome="mutated"\} 10$/m);
    expect(metrics).toMatch(/^ws_drain_review_thread_jobs_total\{result="answered"\} 2$/m);
    // Each worker keeps its own answer cache (the fourth of the same pod on one worker is its first hit);
    // the primary sums the counters: the eight small reviews, 4 + 4 or any other split, give at least 2 hits.
    const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(counter('ws_drain_answer_cache_hits_total') + counter('ws_drain_answer_cache_misses_total')).toBe(8);
    expect(counter('ws_drain_answer_cache_hits_total')).toBeGreaterThanOrEqual(2);
    // The informer's metrics are the primary's own (one informer per pod), not a sum over the workers: one series, 1 not 2.
    expect(metrics).toMatch(/^ws_drain_namespace_informer_synced 1$/m);
    expect(metrics.match(/^# TYPE ws_drain_namespace_informer_synced /gm)).toHaveLength(1);
    expect(metrics).toMatch(/^ws_drain_namespace_watch_errors_total 0$/m);

    s.child.kill('SIGTERM');
    // Both workers start their shutdown; during the delay, readyz is 503 whichever worker answers.
    await s.waitForLine((l) => l['msg'] === 'shutting down: readyz now fails' && l['worker'] === 1);
    await s.waitForLine((l) => l['msg'] === 'shutting down: readyz now fails' && l['worker'] === 2);
    for (let i = 0; i < 4; i++) expect((await s.request('GET', '/readyz', undefined, { newConnection: true })).status).toBe(503);

    expect(await s.exited).toBe(0);
    const admitted = s.lines.filter((l) => l['msg'] === 'admission');
    expect(admitted.map((l) => l['uid']).sort()).toEqual(uids.sort());
    expect(new Set(admitted.map((l) => l['worker']))).toEqual(new Set([1, 2]));
    expect(workerIds(s.lines, 'shutdown complete')).toEqual(new Set([1, 2, undefined]));
    expect(s.lines[s.lines.length - 1]!['msg']).toBe('shutdown complete');
    expect(s.lines[s.lines.length - 1]!['worker']).toBeUndefined();
  });

  it('on a second signal, the workers exit at once (exit 1) and still write every admission line', async () => {
    // A long shutdown delay keeps the graceful path from finishing first.
    serve = await startServe(['--workers', '2', '--shutdown-delay', '60s']);
    const s = serve;
    const workers = await childPids(s.child.pid!);
    expect(workers).toHaveLength(2);
    const uids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const uid = `second-signal-${i}`;
      expect((await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid })), { newConnection: true })).status).toBe(200);
      uids.push(uid);
    }
    s.child.kill('SIGTERM');
    await s.waitForLine((l) => l['msg'] === 'signal received: shutting the workers down');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(1);
    expect(s.lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']).sort()).toEqual(uids.sort());
    expect(s.lines.map((l) => l['msg'])).toContain('second signal: workers exit without waiting');
    // The workers are gone too, not left behind reparented.
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('reloads a changed certificate in every worker', async () => {
    serve = await startServe(['--workers', '2', '--tls-reload-interval', '1s']);
    const s = serve;
    const next = await generateDevCerts({ hosts: ['localhost'] });
    // Both files beside the old ones, then renamed over them, like kubelet's atomic writer.
    await writeFile(join(s.certDir, 'tls.crt.new'), next.tlsCert);
    await writeFile(join(s.certDir, 'tls.key.new'), next.tlsKey);
    await rename(join(s.certDir, 'tls.crt.new'), join(s.certDir, 'tls.crt'));
    await rename(join(s.certDir, 'tls.key.new'), join(s.certDir, 'tls.key'));
    await s.waitForLine((l) => l['msg'] === 'reloaded TLS certificate' && l['worker'] === 1);
    await s.waitForLine((l) => l['msg'] === 'reloaded TLS certificate' && l['worker'] === 2);
    const want = new X509Certificate(next.tlsCert).fingerprint256;
    // New connections alternate between the workers: each presents the new certificate.
    for (let i = 0; i < 4; i++) expect(await peerFingerprint(s.port, next.caCert)).toBe(want);
  });

  it('replaces a worker that dies, and keeps answering', async () => {
    serve = await startServe(['--workers', '2']);
    const s = serve;
    const workers = await childPids(s.child.pid!);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    await s.waitForLine((l) => l['msg'] === 'worker died; starting another');
    await s.waitForLine((l) => l['msg'] === 'ws-drain webhook listening' && l['worker'] === 3);
    for (let i = 0; i < 4; i++) {
      const res = await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid: `after-${i}` })), { newConnection: true });
      expect(res.status).toBe(200);
    }
    expect((await childPids(s.child.pid!)).sort()).not.toContain(workers[0]);
  });
});
