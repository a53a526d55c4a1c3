// `serve --workers N`: N webhook processes (node:cluster) share the HTTPS port,
// so one pod uses N cores. One Node process answers on one core, and a webhook
// pod is usually given more than one (docs/performance.md has the figures).
//
// The primary holds the listening socket and hands each new connection to a
// worker in turn; it serves /metrics (the workers' registries summed by
// prom-client's AggregatorRegistry) and owns the lifecycle:
//   - SIGTERM/SIGINT go to the primary (the kubelet signals PID 1 only); it
//     tells every worker to shut down, and each worker runs the single-process
//     shutdown (readyz 503, delay, close, drain in-flight requests); the primary
//     exits once all have. A second signal tells them to exit at once.
//   - Workers ignore signals themselves: a Ctrl-C that reaches the whole process
//     group must not count as a second signal in the workers.
//   - A worker that dies outside shutdown is replaced; a crash loop stops the pod.
//   - A worker whose primary is gone (SIGKILL, OOM) exits: no one hands it
//     connections any more.
// Each worker reloads the TLS certificate from the files on its own.
//
// Per-pod state: anything that must exist once per pod rather than once per
// process belongs in runPrimary and reaches the workers as messages. The
// namespace informer is: one per worker would multiply the API server's
// watches by N. The primary runs it (and reports its metrics beside the
// workers' sum); each worker keeps a copy (namespace-ipc.ts), and its /readyz
// is 503 until the primary's first complete list has reached it.
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, Registry } from 'prom-client';
import { flushed, type Logger } from './logger.js';
import { createInformerMetrics, createMetricsServer } from './metrics.js';
import { isSubscribe, namespacesMessage, type NamespacesToWorker } from './namespace-ipc.js';
import { startNamespaceInformer, type InformerOptions, type NamespaceInformer } from './namespaces.js';
import type { RunningWebhook } from './serve.js';

/** Primary → worker. */
type ToWorker = { type: 'ws-drain:shutdown' } | { type: 'ws-drain:exit-now' };
/** Worker → primary, once it listens. */
type ToPrimary = { type: 'ws-drain:listening'; port: number };

/** More worker deaths than this within CRASH_WINDOW_MS stop the pod instead of restarting yet again. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;

export interface PrimaryOptions {
  workers: number;
  metricsPort: number;
  host?: string;
  logger: Logger;
  /** The pod's one namespace informer (absent: no namespace source, every worker is synced at once). */
  namespaces?: Omit<InformerOptions, 'logger' | 'metrics' | 'listener'>;
}

function isMessage<T extends { type: string }>(m: unknown, type: T['type']): m is T {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

/**
 * Runs the primary: forks the workers (they run the same command line), serves
 * aggregated metrics, coordinates shutdown. Resolves with the exit code.
 */
export async function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { logger } = opts;
  const aggregator = new AggregatorRegistry();
  let started = false;
  let stopping = false;
  let exitCode = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const crashes: number[] = [];

  // The informer's metrics exist once, here; the workers' registries leave them out.
  const own = new Registry();
  const informerMetrics = createInformerMetrics(own);
  const metricsServer = createMetricsServer(async () => `${await aggregator.clusterMetrics()}\n${await own.metrics()}`, aggregator.contentType, logger);

  const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  // With a callback, a send to a worker that just died fails that send; without one
  // the error is thrown from the worker object and would take the primary down.
  // The dead worker's 'exit' is handled below.
  const send = (w: Worker, m: ToWorker | NamespacesToWorker) => {
    if (w.isConnected()) w.send(m, undefined, undefined, () => {});
  };
  const tell = (m: ToWorker) => {
    for (const w of workers()) send(w, m);
  };

  // Workers that asked for the namespaces: each got the snapshot first, then every change.
  const subscribed = new Set<Worker>();
  const forward = (m: NamespacesToWorker) => {
    for (const w of subscribed) send(w, m);
  };
  let informer: NamespaceInformer | undefined;
  let informerSynced = false;
  if (opts.namespaces) {
    informer = startNamespaceInformer({
      ...opts.namespaces,
      logger,
      metrics: informerMetrics,
      listener: {
        set: (ns) => forward(namespacesMessage.set(ns)),
        delete: (name) => forward(namespacesMessage.delete(name)),
        synced: () => {
          informerSynced = true;
          forward(namespacesMessage.synced());
        },
      },
    });
  } else informerMetrics.namespaceInformerSynced.set(1);
  const subscribe = (worker: Worker) => {
    if (!informer) return;
    send(worker, namespacesMessage.snapshot(informerSynced, informer.all()));
    subscribed.add(worker);
  };

  /** A worker that runs the same command line; resolves with its port once it listens. */
  function fork(): Promise<number> {
    const worker = cluster.fork();
    return new Promise((resolve, reject) => {
      worker.on('message', (m: unknown) => {
        if (isMessage<ToPrimary>(m, 'ws-drain:listening')) resolve(m.port);
        else if (isSubscribe(m)) subscribe(worker);
      });
      worker.once('exit', (code, signal) => reject(new Error(`worker ${worker.id} exited (${signal ?? code}) before it listened`)));
    });
  }

  /** Every worker shuts down (or, after a second signal, exits at once); then the primary. */
  function stop(): void {
    if (stopping) return;
    stopping = true;
    tell({ type: 'ws-drain:shutdown' });
    void (async () => {
      await Promise.all(workers().map((w) => new Promise((resolve) => w.once('exit', resolve))));
      await informer?.stop();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      logger.info('shutdown complete');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      finish(exitCode);
    })();
  }

  cluster.on('exit', (worker, code, signal) => {
    subscribed.delete(worker);
    if (stopping) {
      if (code !== 0) exitCode = 1;
      return;
    }
    if (!started) return; // fork() reports it
    const now = Date.now();
    crashes.push(now);
    while (crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length > MAX_CRASHES) {
      logger.error({ worker: worker.id, code, signal, crashes: crashes.length, windowMs: CRASH_WINDOW_MS }, 'workers keep dying: stopping');
      exitCode = 1;
      stop();
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
    fork().catch((err: unknown) => logger.error({ err: String(err) }, 'replacement worker failed to start'));
  });

  let ports: number[];
  try {
    // All share one port, also when asked for any free one (port 0).
    ports = await Promise.all(Array.from({ length: opts.workers }, fork));
  } catch (err) {
    stopping = true;
    for (const w of workers()) w.kill();
    await informer?.stop();
    throw err;
  }
  started = true;
  const metricsPort = await new Promise<number>((resolve, reject) => {
    metricsServer.once('error', reject);
    metricsServer.listen(opts.metricsPort, opts.host, () => resolve((metricsServer.address() as AddressInfo).port));
  });
  logger.info({ port: ports[0], metricsPort, workers: opts.workers }, 'ws-drain webhook listening');
  logger.flush();

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      logger.info({ signal, workers: workers().length }, 'signal received: shutting the workers down');
      stop();
    } else {
      logger.warn({ signal }, 'second signal: workers exit without waiting');
      exitCode = 1;
      // Each worker flushes its own log lines as it exits.
      tell({ type: 'ws-drain:exit-now' });
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return finished;
}

/**
 * Runs one worker: starts the webhook (without a metrics server; its registry
 * is reported to the primary) and shuts it down when the primary says so.
 */
export async function runWorker(start: () => Promise<RunningWebhook>, logger: Logger): Promise<number> {
  // The primary decides; see the header comment.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  const webhook = await start();
  process.send?.({ type: 'ws-drain:listening', port: webhook.port } satisfies ToPrimary);
  return new Promise<number>((resolve) => {
    process.on('message', (m: unknown) => {
      if (isMessage<ToWorker>(m, 'ws-drain:shutdown')) {
        webhook.close().then(
          () => resolve(0),
          (err: unknown) => {
            logger.error({ err: String(err) }, 'shutdown failed');
            resolve(1);
          },
        );
      } else if (isMessage<ToWorker>(m, 'ws-drain:exit-now')) {
        void flushed(logger).then(() => resolve(1));
      }
    });
    process.on('disconnect', () => {
      logger.error('the primary process is gone: exiting');
      resolve(1);
    });
  });
}
