// The webhook against its own rollout and against clients that misbehave on
// the wire. No timing is asserted: each test waits for an outcome (a closed
// socket, a finished rollout) and checks what happened.
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../../src/certs/dev-certs.js';
import { startWebhook, type RunningWebhook, type WebhookOptions } from '../../src/server/serve.js';
import { admissionReview, capturingLogger, getMetrics, localWebhookOptions } from './review-fixtures.js';
import { rolloutUnderLoad } from './rollout-load.js';

let dir: string;
let pems: DevCertPems;
const running: RunningWebhook[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ws-drain-hostile-'));
  pems = await generateDevCerts({ hosts: ['localhost'] });
  await writeDevCerts(dir, pems);
  return () => rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.close()));
});

async function start(extra: Partial<WebhookOptions> = {}): Promise<RunningWebhook> {
  const w = await startWebhook(localWebhookOptions(dir, { logger: capturingLogger().logger, ...extra }));
  running.push(w);
  return w;
}

/** Resolves when the peer closes the socket (or it errors), with what was received. */
function closed(socket: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('rollout of the webhook itself', () => {
  it('loses no request across SIGTERM under 100 keep-alive clients: readyz 503 first, then answers say Connection: close and the next request goes to the ready replica', async () => {
    const old = await start({ shutdownDelayMs: 400, shutdownTimeoutMs: 5_000 });
    const next = await start();
    const result = await rolloutUnderLoad({
      clients: 100,
      ca: pems.caCert,
      oldPort: old.port,
      newPort: next.port,
      body: JSON.stringify(admissionReview({ uid: 'rollout' })),
      shutdownOld: () => old.close(),
      warmupMs: 300,
      cooldownMs: 200,
      propagationMs: 200,
    });
    expect(result.failures).toEqual({});
    expect(result.failed).toBe(0);
    expect(result.readyzDuringShutdown).toBe(503);
    // The old replica kept answering during its delay, then told each client to reconnect.
    expect(result.oldAfterShutdown).toBeGreaterThan(0);
    expect(result.connectionClose).toBe(100);
  }, 180_000); // hang guard: connecting 100 TLS clients takes long on a loaded machine; no timing is asserted
});

describe('clients that hold connections', () => {
  it('drops a TCP connection that never sends a TLS ClientHello', async () => {
    const w = await start({ timeouts: { handshakeMs: 200 } });
    const socket = netConnect(w.port, '127.0.0.1');
    socket.on('error', () => {});
    await closed(socket);
    expect(socket.bytesWritten).toBe(0);
    expect(await closedFor(w, 'handshake')).toBe(1);
  });

  it('drops a TLS connection that never sends a request', async () => {
    const w = await start({ timeouts: { stalledMs: 200 } });
    const socket = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    socket.on('error', () => {});
    await new Promise((r) => socket.once('secureConnect', r));
    await closed(socket);
    expect(await closedFor(w, 'idle')).toBe(1);
    expect(await closedFor(w, 'stalled')).toBe(0);
  });

  it('drops a client that sends headers and never the body it announced', async () => {
    const w = await start({ timeouts: { headersMs: 300, requestMs: 300, stalledMs: 60_000 } });
    const socket = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    await new Promise((r) => socket.once('secureConnect', r));
    socket.write('POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"apiVersion"');
    // Trickle a byte now and then: never stalled, never finished.
    const trickle = setInterval(() => socket.write(' '), 50);
    await closed(socket);
    clearInterval(trickle);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect(await closedFor(w, 'request')).toBe(1);
  });

  it('closes a client that pipelines big reviews and never reads its answers, and answers other clients', async () => {
    // Node's own stall timeout is pushed out of the way: only the unread-answer timeout can close it here.
    const { logger, lines } = capturingLogger();
    const w = await start({ logger, timeouts: { stalledMs: 600_000, unreadAnswerMs: 500 } });
    const request = mutateRequest(admissionReview({ uid: 'never-read', object: nearCapPod() }));
    const flood = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    flood.on('error', () => {});
    await new Promise((r) => flood.once('secureConnect', r));
    flood.pause(); // never read: the kernel's buffers fill, then Node's, then the server's writes stall
    const answered = (): number => lines.filter((l) => l['uid'] === 'never-read').length;
    const unreadClosed = (): Record<string, unknown> | undefined => lines.find((l) => l['msg'] === 'closed a connection that did not read its answers');
    // One review at a time, each once the previous one was answered (pipelined all at once, Node's
    // parser drops the connection at once: "Parse Error: Paused"), until the server gives up on it.
    for (let sent = 0; unreadClosed() === undefined; ) {
      if (answered() === sent) {
        flood.write(request);
        sent++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(unreadClosed()).toMatchObject({ level: 40, timeoutMs: 500 });
    expect(unreadClosed()!['unsentBytes']).toBeGreaterThan(0);
    expect(await closedFor(w, 'unread_answer')).toBe(1);
    // The client sees the answers the kernel had taken, then the end: the server has closed it.
    flood.resume();
    await closed(flood);
    // Another client's review is answered in full.
    expect(await answerOf(w.port, 'other')).toMatch(/^HTTP\/1\.1 200/);
  }, 120_000); // hang guard only: no timing is asserted

  it('keeps a busy client that reads every answer: a new answer of the same size queued at each tick is progress', async () => {
    // Back to back on one connection, each answer read before the next request: Node often still holds the
    // last answer when the tick looks (its TLS write completes a turn later), an answer of the same size
    // each time. Judged by the backlog's size alone, that was no progress and the connection was closed.
    const w = await start({ timeouts: { stalledMs: 600_000, unreadAnswerMs: 100 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify(admissionReview({ uid: 'busy' }));
    const sockets = new Set<unknown>();
    const review = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: w.port, path: '/mutate', method: 'POST', ca: pems.caCert, servername: 'localhost', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        req.end(body);
      });
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 3000; i++) statuses.push(await review());
    } finally {
      agent.destroy();
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(sockets.size).toBe(1);
    expect(await closedFor(w, 'unread_answer')).toBe(0);
  }, 120_000); // hang guard only: no timing is asserted

  it('keeps answering other clients while one pipelines big reviews all at once and never reads', async () => {
    const w = await start();
    const request = mutateRequest(admissionReview({ uid: 'never-read', object: nearCapPod() }));
    const flood = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    flood.on('error', () => {});
    await new Promise((r) => flood.once('secureConnect', r));
    flood.pause();
    for (let i = 0; i < 20; i++) flood.write(request);
    expect(await answerOf(w.port, 'other')).toMatch(/^HTTP\/1\.1 200/);
    flood.destroy();
  }, 60_000);
});

/** ws_drain_connections_closed_total for one reason. */
async function closedFor(w: RunningWebhook, reason: string): Promise<number> {
  const line = (await getMetrics(w.metricsPort!)).split('\n').find((l) => l.startsWith(`ws_drain_connections_closed_total{reason="${reason}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** A pod admitted with an answer near the caps (~0.7 MiB): 1,000 ports on 80 containers. */
function nearCapPod(): Record<string, unknown> {
  const ports = Array.from({ length: 1000 }, (_, i) => String(20_000 + i)).join(',');
  const containers = Array.from({ length: 80 }, (_, i) => ({ name: `c${i}`, image: 'x', ports: [{ containerPort: 20_000 }] }));
  return { metadata: { name: 'flood', annotations: { 'ws-drain/session-p95': '1m', 'ws-drain/ports': ports } }, spec: { containers } };
}

function mutateRequest(review: unknown): string {
  const body = JSON.stringify(review);
  return `POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Sends one review on a new connection and resolves with the raw answer once it is complete. */
function answerOf(port: number, uid: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: pems.caCert, servername: 'localhost' });
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes(`"uid":${JSON.stringify(uid)}`)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
    s.once('secureConnect', () => s.write(mutateRequest(admissionReview({ uid }))));
  });
}
