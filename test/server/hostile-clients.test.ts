// The webhook against its own rollout and against clients that misbehave on
// the wire. No timing is asserted: each test waits for an outcome (a closed
// socket, a finished rollout) and checks what happened.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts, writeDevCerts, type DevCertPems } from '../../src/certs/dev-certs.js';
import { startWebhook, type RunningWebhook, type WebhookOptions } from '../../src/server/serve.js';
import { admissionReview, capturingLogger, localWebhookOptions } from './review-fixtures.js';
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
  });

  it('drops a TLS connection that never sends a request', async () => {
    const w = await start({ timeouts: { stalledMs: 200 } });
    const socket = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    socket.on('error', () => {});
    await new Promise((r) => socket.once('secureConnect', r));
    await closed(socket);
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
  });

  it('keeps answering other clients while one pipelines big reviews and never reads its answers', async () => {
    const w = await start();
    // A pod admitted with an answer near the caps (~0.7 MiB): 1,000 ports on 80 containers.
    const ports = Array.from({ length: 1000 }, (_, i) => String(20_000 + i)).join(',');
    const containers = Array.from({ length: 80 }, (_, i) => ({ name: `c${i}`, image: 'x', ports: [{ containerPort: 20_000 }] }));
    const object = { metadata: { name: 'flood', annotations: { 'ws-drain/session-p95': '1m', 'ws-drain/ports': ports } }, spec: { containers } };
    const body = JSON.stringify(admissionReview({ uid: 'never-read', object }));
    const request = `POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const flood = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
    flood.on('error', () => {});
    await new Promise((r) => flood.once('secureConnect', r));
    flood.pause(); // never read: the answers fill the socket buffers and the server's writes stall
    for (let i = 0; i < 20; i++) flood.write(request);
    // Another client's review is answered in full meanwhile.
    const other = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: w.port, ca: pems.caCert, servername: 'localhost' });
      let text = '';
      s.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('"uid":"other"')) {
          s.destroy();
          resolve(text);
        }
      });
      s.on('error', reject);
      const review = JSON.stringify(admissionReview({ uid: 'other' }));
      s.once('secureConnect', () => s.write(`POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(review)}\r\n\r\n${review}`));
    });
    expect(other).toMatch(/^HTTP\/1\.1 200/);
    flood.destroy();
  }, 60_000);
});
