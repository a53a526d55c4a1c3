// Starts the webhook: the express app behind Node https (with certificate
// reload) plus a plain-HTTP Prometheus endpoint, and a graceful shutdown.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { WebhookConfig } from '../core/types.js';
import { createApp, type Lifecycle } from './app.js';
import { createLogger, type LogLevel, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { checkTlsMaterial, readTlsMaterial, secureContextOptions, watchTlsFiles } from './tls.js';

// Longer than the API server's idle-connection timeout (Go's 90s), so the client
// always closes an idle keep-alive connection first: a server-side close racing
// a new POST would fail that admission call.
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

export interface WebhookOptions {
  config: WebhookConfig;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** 0 = any free port. */
  port: number;
  /** 0 = any free port. */
  metricsPort: number;
  /** Listen address of both ports (default: all interfaces). */
  host?: string;
  logLevel?: LogLevel;
  /** Supply a logger instead of stdout JSON (tests). */
  logger?: Logger;
  /** How long in-flight requests may take to finish once shutdown starts. */
  shutdownTimeoutMs?: number;
  /** Time between /readyz turning 503 and the listener closing, so endpoints can drop the pod first. */
  shutdownDelayMs?: number;
  tlsReloadIntervalMs?: number;
}

export interface RunningWebhook {
  port: number;
  metricsPort: number;
  /** Graceful stop: readyz 503, (delay), stop accepting, finish in-flight (bounded), close sockets. Idempotent. */
  close(): Promise<void>;
  /** Checks the TLS files now instead of waiting for the next poll. */
  reloadTls(): Promise<void>;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: HttpServer | HttpsServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Idle keep-alive sockets would otherwise hold close() open until the client hangs up.
    server.closeIdleConnections();
  });
}

export async function startWebhook(opts: WebhookOptions): Promise<RunningWebhook> {
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info');
  const metrics = createMetrics();
  const lifecycle: Lifecycle = { shuttingDown: false };
  const files = { certFile: opts.tlsCertFile, keyFile: opts.tlsKeyFile };

  const material = await readTlsMaterial(files);
  const certInfo = checkTlsMaterial(material);

  const app = createApp({ config: opts.config, logger, metrics, lifecycle });
  const server = createHttpsServer({ ...secureContextOptions(material), keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, app);
  // A client that stops sending mid-request must not pin a socket forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;

  const metricsServer = createHttpServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          logger.error({ err: String(err) }, 'collecting metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
  });

  const port = await listen(server, opts.port, opts.host);
  let metricsPort: number;
  try {
    metricsPort = await listen(metricsServer, opts.metricsPort, opts.host);
  } catch (err) {
    server.close();
    throw err;
  }
  const reloader = watchTlsFiles(server, files, material, logger, opts.tlsReloadIntervalMs ?? 5_000);
  logger.info({ port, metricsPort, certificate: certInfo, config: opts.config }, 'ws-drain webhook listening');

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    lifecycle.shuttingDown = true;
    const delay = opts.shutdownDelayMs ?? 0;
    logger.info({ shutdownDelayMs: delay, shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 10_000 }, 'shutting down: readyz now fails');
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    reloader.stop();
    await Promise.all([closeServer(server, opts.shutdownTimeoutMs ?? 10_000), closeServer(metricsServer, 1_000)]);
    logger.info('shutdown complete');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
  }
  return {
    port,
    metricsPort,
    close: () => (closing ??= shutdown()),
    reloadTls: () => reloader.check(),
  };
}
