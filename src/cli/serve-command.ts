// `ws-drain serve`: run the admission webhook until SIGTERM/SIGINT.
import cluster from 'node:cluster';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { DEV_CERT_FILES } from '../certs/dev-cert-files.js';
import { connectToCluster } from '../kube/connect.js';
import type { KubeConnection } from '../kube/connection.js';
import { SERVICE_ACCOUNT_DIR } from '../kube/in-cluster.js';
import { LOG_LEVELS, createLogger, flushed, logProcessWarnings, type LogLevel } from '../server/logger.js';
import type { WebhookOptions } from '../server/serve.js';
import { usageError } from './cli-error.js';
import { CONFIG_FLAGS, configFromFlags, durationFlag, envName, formatFlagHelp, parseFlags, portFlag, stringFlag, type FlagSpec } from './flags.js';

const DEV_CERT_DIR = 'certs';
/** More processes than cores only add memory; 64 is far above any webhook pod's CPUs. */
const MAX_WORKERS = 64;
const DEFAULT_TLS_DIR = '/etc/ws-drain/tls';
/** 160 MiB of answer cache at 16 KiB per entry. */
const MAX_ANSWER_CACHE_ENTRIES = 10_000;

function flag(name: string, help: string, value: string | undefined, defaultText?: string): FlagSpec {
  return value === undefined
    ? { name, type: 'boolean', env: envName(name), help }
    : { name, type: 'string', env: envName(name), help, value, defaultText };
}

export const SERVE_FLAGS: FlagSpec[] = [
  flag('port', 'HTTPS port of /mutate, /healthz, /readyz', 'PORT', '8443'),
  flag('metrics-port', 'plain-HTTP port of /metrics', 'PORT', '9090'),
  flag('tls-cert', 'serving certificate (PEM), reloaded when the file changes', 'FILE', `${DEFAULT_TLS_DIR}/tls.crt`),
  flag('tls-key', 'serving key (PEM), reloaded when the file changes', 'FILE', `${DEFAULT_TLS_DIR}/tls.key`),
  flag('tls-reload-interval', 'how often the certificate files are checked for changes', 'DURATION', '5s'),
  flag('log-level', `one of ${LOG_LEVELS.join(', ')}`, 'LEVEL', 'info'),
  flag('shutdown-delay', 'on SIGTERM, time /readyz reports 503 before the listener closes', 'DURATION', '0s'),
  flag('shutdown-timeout', 'on SIGTERM, how long in-flight requests may take to finish', 'DURATION', '10s'),
  flag('workers', 'processes answering on the HTTPS port (node:cluster), up to the CPUs the pod may use; 1 = one process, no cluster; the namespace informer runs once, in the primary', 'N', '1'),
  flag('review-threads', 'threads answering reviews over 64 KiB, so a large review never holds up the others (docs/limits.md); 0 = every review on the main thread', 'N', '1'),
  flag(
    'answer-cache-size',
    `answers of /mutate kept for pods identical but for the review's uid (a rollout's replicas), least recently used out first; each worker keeps its own, holding at most 16 KiB of text per entry; 0 = every answer computed (0-${MAX_ANSWER_CACHE_ENTRIES})`,
    'N',
    '256',
  ),
  flag('dev', `local development: use ${DEV_CERT_DIR}/tls.crt and tls.key, generating a dev CA and certificate there if absent; --namespace-source defaults to none`, undefined),
  flag(
    'namespace-source',
    'cluster: read namespace labels and ws-drain/ annotations through an informer (needs get/list/watch on namespaces; /readyz waits for the first list); none: namespaces have no opt-in label or defaults',
    'cluster|none',
    'cluster, none with --dev',
  ),
  flag('kubeconfig', 'kubeconfig for --namespace-source=cluster (default: $KUBECONFIG, ~/.kube/config, then the pod\'s service account)', 'FILE'),
  flag('service-account-dir', 'without a kubeconfig: the pod\'s service account mount (token, ca.crt), read again for every request to the API server', 'DIR', SERVICE_ACCOUNT_DIR),
  ...CONFIG_FLAGS,
];

export const SERVE_HELP = `Usage: ws-drain serve [flags]

Run the mutating admission webhook (HTTPS) and its Prometheus endpoint (HTTP).
Every flag can also be set through the environment variable shown.
The webhook's own namespace (env POD_NAMESPACE) is always excluded.

Flags:
${formatFlagHelp(SERVE_FLAGS)}
`;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function serveCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, SERVE_FLAGS);
  if (values['help']) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  // The webhook must never mutate its own pods (it would need itself to start).
  const ownNamespace = process.env['POD_NAMESPACE'];
  const config = configFromFlags(values, ownNamespace ? [ownNamespace] : []);
  const port = portFlag(values, 'port', 8443);
  const metricsPort = portFlag(values, 'metrics-port', 9090);
  const logLevel = stringFlag(values, 'log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw usageError(`--log-level=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`);
  const shutdownTimeout = durationFlag(values, 'shutdown-timeout') ?? 10;
  const shutdownDelay = durationFlag(values, 'shutdown-delay') ?? 0;
  const reloadInterval = durationFlag(values, 'tls-reload-interval', { positive: true }) ?? 5;
  const workersText = stringFlag(values, 'workers') ?? '1';
  const workers = /^\d{1,2}$/.test(workersText) ? Number(workersText) : NaN;
  if (!(workers >= 1 && workers <= MAX_WORKERS)) throw usageError(`--workers=${JSON.stringify(workersText)}: expected a whole number 1-${MAX_WORKERS}`);
  const threadsText = stringFlag(values, 'review-threads') ?? '1';
  const reviewThreads = /^\d{1,2}$/.test(threadsText) ? Number(threadsText) : NaN;
  if (!(reviewThreads >= 0 && reviewThreads <= MAX_WORKERS)) throw usageError(`--review-threads=${JSON.stringify(threadsText)}: expected a whole number 0-${MAX_WORKERS}`);
  const cacheText = stringFlag(values, 'answer-cache-size');
  const answerCacheEntries = cacheText === undefined ? undefined : /^\d{1,5}$/.test(cacheText) ? Number(cacheText) : NaN;
  if (answerCacheEntries !== undefined && !(answerCacheEntries >= 0 && answerCacheEntries <= MAX_ANSWER_CACHE_ENTRIES)) {
    throw usageError(`--answer-cache-size=${JSON.stringify(cacheText)}: expected a whole number 0-${MAX_ANSWER_CACHE_ENTRIES} (0 turns the answer cache off)`);
  }
  const dev = values['dev'] === true;
  const tlsDir = dev ? DEV_CERT_DIR : DEFAULT_TLS_DIR;
  const tlsCertFile = stringFlag(values, 'tls-cert') ?? join(tlsDir, DEV_CERT_FILES.tlsCert);
  const tlsKeyFile = stringFlag(values, 'tls-key') ?? join(tlsDir, DEV_CERT_FILES.tlsKey);

  const namespaceSource = stringFlag(values, 'namespace-source') ?? (dev ? 'none' : 'cluster');
  if (namespaceSource !== 'cluster' && namespaceSource !== 'none') throw usageError(`--namespace-source=${JSON.stringify(namespaceSource)}: expected cluster or none`);

  const logger = createLogger(logLevel as LogLevel);
  logProcessWarnings(logger);
  if (dev && !(await exists(tlsCertFile)) && !(await exists(tlsKeyFile))) {
    // Loaded only here: the x509 library is a third of what `serve` would otherwise load at start.
    const { generateDevCerts, writeDevCerts } = await import('../certs/dev-certs.js');
    const paths = await writeDevCerts(DEV_CERT_DIR, await generateDevCerts({ hosts: ['localhost', '127.0.0.1'] }));
    logger.info({ ...paths }, 'generated a development CA and serving certificate');
  }
  for (const [name, file] of [['tls-cert', tlsCertFile], ['tls-key', tlsKeyFile]] as const) {
    if (!(await exists(file))) {
      throw usageError(`--${name}: cannot read ${file} (generate dev certificates with "ws-drain certs --out ${DEV_CERT_DIR}", or run with --dev)`);
    }
  }

  const connection = namespaceSource === 'cluster' ? await connectServe(stringFlag(values, 'kubeconfig'), stringFlag(values, 'service-account-dir')) : undefined;
  const options: WebhookOptions = {
    config,
    tlsCertFile,
    tlsKeyFile,
    port,
    metricsPort,
    logger,
    shutdownTimeoutMs: shutdownTimeout * 1000,
    shutdownDelayMs: shutdownDelay * 1000,
    tlsReloadIntervalMs: reloadInterval * 1000,
    reviewThreads,
    ...(answerCacheEntries === undefined ? {} : { answerCacheEntries }),
    ...(connection ? { namespaces: { connection } } : {}),
  };
  // --workers N: this process becomes the primary and runs this same command N
  // times as workers (src/server/cluster.ts).
  // Loaded only where reviews are answered: the primary of --workers N answers none.
  const loadWebhook = () => import('../server/serve.js');
  if (cluster.isWorker) {
    const [{ runWorker }, { startWebhook }] = await Promise.all([import('../server/cluster.js'), loadWebhook()]);
    const workerLogger = logger.child({ worker: cluster.worker?.id });
    return runWorker(() => startWebhook({ ...options, logger: workerLogger, clusterWorker: true }), workerLogger);
  }
  if (workers > 1) {
    const { runPrimary } = await import('../server/cluster.js');
    try {
      return await runPrimary({ workers, metricsPort, logger, ...(connection ? { namespaces: { connection, config } } : {}) });
    } catch (err) {
      logger.flush();
      throw usageError(`cannot start the webhook: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const { startWebhook } = await loadWebhook();
  let webhook;
  try {
    webhook = await startWebhook(options);
  } catch (err) {
    logger.flush();
    throw usageError(`cannot start the webhook: ${err instanceof Error ? err.message : String(err)}`);
  }
  const running = webhook;
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        // A second Ctrl-C means "now".
        logger.warn({ signal }, 'second signal: exiting without waiting');
        // Without waiting for connections; the log lines of the answers given go out first, in order.
        void flushed(logger).then(() => resolve(1));
        return;
      }
      logger.info({ signal }, 'signal received');
      running.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err: String(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** --kubeconfig, else $KUBECONFIG, ~/.kube/config, then the pod's service account (src/kube/connect.ts). */
async function connectServe(kubeconfig: string | undefined, serviceAccountDir: string | undefined): Promise<KubeConnection> {
  try {
    return await connectToCluster({ kubeconfig, ...(serviceAccountDir === undefined ? {} : { serviceAccountDir }) });
  } catch (err) {
    throw usageError(`--namespace-source=cluster: ${(err as Error).message}; pass --kubeconfig, or --namespace-source=none`);
  }
}
