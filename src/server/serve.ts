// Starts the webhook: the request listener (app.ts) behind Node https (with certificate
// reload) plus a plain-HTTP Prometheus endpoint, and a graceful shutdown.
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { WebhookConfig } from '../core/types.js';
import { createAnswerMemo, DEFAULT_ANSWER_CACHE_ENTRIES } from './answer-memo.js';
import { createApp, type Lifecycle } from './app.js';
import { createLogger, type LogLevel, type Logger } from './logger.js';
import { createMetrics, createMetricsServer } from './metrics.js';
import { followPrimaryNamespaces } from './namespace-ipc.js';
import { countingMisses, noNamespaces, startNamespaceInformer, type InformerOptions } from './namespaces.js';
import { createReviewPool, type ReviewPool, type ReviewPoolOptions } from './review-pool.js';
import { countTimeoutCloses } from './timeout-closes.js';
import { closeUnreadAnswers } from './unread-answers.js';
import { checkTlsMaterial, readTlsMaterial, secureContextOptions, watchTlsFiles } from './tls.js';

/**
 * Connection timeouts (docs/limits.md). Each bounds how long one hostile or
 * broken client can hold a socket and the memory behind it.
 */
export const CONNECTION_TIMEOUTS = {
  /** TCP accept to finished TLS handshake (Node's default is 120 s). */
  handshakeMs: 10_000,
  /** First byte of a request to the end of its headers. */
  headersMs: 10_000,
  /** First byte of a request to the end of its body. */
  requestMs: 30_000,
  /**
   * No byte moving either way on a socket with a request in progress: a client
   * that sends nothing after the handshake, or never reads its answer, is
   * disconnected and the unsent answer freed.
   */
  stalledMs: 15_000,
  /**
   * Answer bytes Node holds for a client that has not taken any of them: the
   * connection is destroyed however active it is otherwise. The API server
   * reads an answer as soon as it comes and gives up on a webhook after its
   * timeoutSeconds (5 s in manifests/base): after 10 s nobody waits for it.
   */
  unreadAnswerMs: 10_000,
  /**
   * Longer than the API server's idle-connection timeout (Go's 90s), so the
   * client always closes an idle keep-alive connection first: a server-side
   * close racing a new POST would fail that admission call.
   */
  keepAliveMs: 120_000,
} as const;

export type ConnectionTimeouts = { [K in keyof typeof CONNECTION_TIMEOUTS]: number };

export interface WebhookOptions {
  config: WebhookConfig;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** 0 = any free port. */
  port: number;
  /** 0 = any free port. */
  metricsPort: number;
  /**
   * A node:cluster worker (cluster.ts): no metrics server of its own; its
   * registry answers the primary's aggregation requests instead. With
   * `namespaces`, it reads them from the primary's informer, not its own.
   */
  clusterWorker?: boolean;
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
  /** Overrides of CONNECTION_TIMEOUTS (tests use short ones). */
  timeouts?: Partial<ConnectionTimeouts>;
  /**
   * Where namespace labels and annotations come from: an informer on this
   * cluster (needs get/list/watch on namespaces), or none (`serve --dev`):
   * every namespace then reads as having no ws-drain label or annotations.
   */
  namespaces?: Pick<InformerOptions, 'connection' | 'initialBackoffMs' | 'maxBackoffMs'>;
  /**
   * Review threads answering reviews over 64 KiB (review-pool.ts); 0 answers
   * every review on the event loop (default 1).
   */
  reviewThreads?: number;
  /**
   * Answers of /mutate kept for pods identical but for the review's uid
   * (answer-memo.ts): at most this many (default DEFAULT_ANSWER_CACHE_ENTRIES);
   * 0 computes every answer.
   */
  answerCacheEntries?: number;
  /** Overrides of the review pool's bounds (tests). */
  reviewPool?: Pick<ReviewPoolOptions, 'maxPendingBytes' | 'jobTimeoutMs' | 'resourceLimits' | 'entry'>;
}

export interface RunningWebhook {
  port: number;
  /** undefined in a cluster worker: the primary serves the metrics. */
  metricsPort: number | undefined;
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

/** After the listener closes, how long a connection without a request in progress may stay open. */
const IDLE_GRACE_MS = 1_000;

/**
 * Stops accepting, then lets every open connection end on its own terms: a
 * request in progress or arriving is answered (with Connection: close, see
 * app.ts); connections still without one after IDLE_GRACE_MS are closed; all
 * are closed after timeoutMs. Node's http close() would instead destroy every
 * connection without a parsed request at once, including ones whose request
 * is already in the socket buffer: under load that reset one request per
 * keep-alive client.
 */
function closeServer(server: HttpServer | HttpsServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const idle = setTimeout(() => server.closeIdleConnections(), Math.min(IDLE_GRACE_MS, timeoutMs));
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    NetServer.prototype.close.call(server, () => {
      clearTimeout(idle);
      clearTimeout(force);
      resolve();
    });
  });
}

export async function startWebhook(opts: WebhookOptions): Promise<RunningWebhook> {
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info');
  let reviews: ReviewPool | undefined;
  // One per process: each serve --workers worker keeps its own.
  const answerEntries = opts.answerCacheEntries ?? DEFAULT_ANSWER_CACHE_ENTRIES;
  const answers =
    answerEntries > 0
      ? createAnswerMemo({ config: opts.config, entries: answerEntries, onLookup: (hit) => (hit ? metrics.answerCacheHits : metrics.answerCacheMisses).inc() })
      : undefined;
  // A cluster worker: the informer's metrics are the primary's (cluster.ts).
  const metrics = createMetrics({
    pendingReviews: () => reviews?.pending() ?? 0,
    informer: opts.clusterWorker !== true,
    answerCache: () => answers?.stats() ?? { entries: 0, bytes: 0 },
  });
  const lifecycle: Lifecycle = { shuttingDown: false };
  const files = { certFile: opts.tlsCertFile, keyFile: opts.tlsKeyFile };

  const material = await readTlsMaterial(files);
  const certInfo = checkTlsMaterial(material);

  // Started before listening: /readyz answers 503 until the first list is in.
  // In a cluster worker, a copy of the primary's informer (namespace-ipc.ts): one watch per pod.
  const namespaces = countingMisses(
    !opts.namespaces
      ? noNamespaces()
      : opts.clusterWorker === true
        ? followPrimaryNamespaces({ config: opts.config, logger })
        : startNamespaceInformer({ ...opts.namespaces, config: opts.config, logger, metrics }),
    metrics,
  );
  if (!opts.namespaces) metrics.namespaceInformerSynced.set(1);
  const threads = opts.reviewThreads ?? 1;
  reviews =
    threads > 0
      ? createReviewPool({
          ...opts.reviewPool,
          threads,
          config: opts.config,
          namespaces: (name) => namespaces.view(name),
          logger,
          onDone: (kind, cause) => metrics.reviewThreadJobs.inc({ result: cause === 'timed-out' ? 'timed_out' : cause ?? (kind === 'answer' ? 'answered' : kind) }),
        })
      : undefined;
  const app = createApp({ config: opts.config, logger, metrics, lifecycle, namespaces, reviews, answers });
  const t: ConnectionTimeouts = { ...CONNECTION_TIMEOUTS, ...opts.timeouts };
  const server = createHttpsServer(
    {
      ...secureContextOptions(material),
      keepAliveTimeout: t.keepAliveMs,
      handshakeTimeout: t.handshakeMs,
      // headersTimeout and requestTimeout are enforced on this tick (Node's default: 30 s).
      connectionsCheckingInterval: Math.min(1_000, t.headersMs),
    },
    app,
  );
  // A client that stops sending mid-request must not pin a socket forever.
  server.requestTimeout = t.requestMs;
  server.headersTimeout = t.headersMs;
  // Without a 'timeout' listener Node destroys the stalled socket, dropping any unsent answer.
  server.timeout = t.stalledMs;
  const unread = closeUnreadAnswers(server, t.unreadAnswerMs, logger, () => metrics.connectionsClosed.inc({ reason: 'unread_answer' }));
  countTimeoutCloses(server, (reason) => metrics.connectionsClosed.inc({ reason }));

  const metricsServer = createMetricsServer(() => metrics.registry.metrics(), metrics.registry.contentType, logger);

  let port: number;
  try {
    port = await listen(server, opts.port, opts.host);
  } catch (err) {
    unread.stop();
    await reviews?.close();
    await namespaces.stop();
    throw err;
  }
  let metricsPort: number | undefined;
  try {
    if (opts.clusterWorker === true) {
      AggregatorRegistry.setRegistries([metrics.registry]);
      // Constructing one is what makes a worker answer the primary's requests.
      new AggregatorRegistry();
    } else metricsPort = await listen(metricsServer, opts.metricsPort, opts.host);
  } catch (err) {
    unread.stop();
    server.close();
    await reviews?.close();
    await namespaces.stop();
    throw err;
  }
  const reloader = watchTlsFiles(server, files, material, logger, opts.tlsReloadIntervalMs ?? 5_000);
  logger.info({ port, metricsPort, certificate: certInfo, config: opts.config }, 'ws-drain webhook listening');
  // Logs are buffered (logger.ts); this line should show at once.
  logger.flush();

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    lifecycle.shuttingDown = true;
    const delay = opts.shutdownDelayMs ?? 0;
    logger.info({ shutdownDelayMs: delay, shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 10_000 }, 'shutting down: readyz now fails');
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    reloader.stop();
    lifecycle.endingConnections = true;
    await Promise.all([closeServer(server, opts.shutdownTimeoutMs ?? 10_000), metricsPort === undefined ? undefined : closeServer(metricsServer, 1_000)]);
    // Every connection has ended; a review thread still answering one (after
    // --shutdown-timeout) finishes it, bounded by the job timeout, before the threads stop.
    await reviews?.close();
    unread.stop();
    await namespaces.stop();
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
