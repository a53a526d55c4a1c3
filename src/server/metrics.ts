// Prometheus metrics on their own Registry, so several webhooks in one process
// (tests) never collide in prom-client's global registry.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_LOOP_DELAY_METRICS, registerEventLoopDelay } from './event-loop-delay.js';
import type { Logger } from './logger.js';

/** `validated`: a workload template allowed by /validate (its denials count as `denied`). */
export type AdmissionOutcome = 'mutated' | 'skipped' | 'denied' | 'error' | 'passthrough' | 'validated';

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
  injections: Counter;
  graceRaised: Counter;
  denials: Counter<'request_namespace'>;
  /** Counts one denial in the request's namespace, within MAX_DENIAL_NAMESPACES series. */
  countDenial(namespace: string): void;
  namespaceWatchErrors: Counter;
  namespaceCacheMisses: Counter;
  namespaceInformerSynced: Gauge;
  namespaceIgnoredAnnotations: Gauge<'namespace_name'>;
  reviewThreadJobs: Counter<'result'>;
  reviewThreadPending: Gauge;
  answerCacheHits: Counter;
  answerCacheMisses: Counter;
  connectionsClosed: Counter<'reason'>;
}

/**
 * Distinct namespaces ws_drain_denials_total keeps a series for. /mutate has
 * no client authentication, so the namespace in a review is caller-chosen:
 * past this many, denials count under OTHER_NAMESPACES and memory stays bounded.
 */
export const MAX_DENIAL_NAMESPACES = 500;
export const OTHER_NAMESPACES = '_other';

/** Node's longest timer (its setTimeout's TIMEOUT_MAX, 2^31 − 1 ms): prom-client's then never runs. */
const PROM_CLIENT_LOOP_TIMER_MS = 2 ** 31 - 1;

/**
 * `informer: false` (a serve --workers worker): the informer's metrics are left
 * out of the registry, the primary's informer reports them.
 */
export function createMetrics(
  opts: { defaultMetrics?: boolean; pendingReviews?: () => number; informer?: boolean; answerCache?: () => { entries: number; bytes: number } } = {},
): WebhookMetrics {
  const pendingReviews = opts.pendingReviews ?? (() => 0);
  const answerCache = opts.answerCache ?? (() => ({ entries: 0, bytes: 0 }));
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    // prom-client cannot leave out its event-loop histogram (a timer every
    // 10 ms, busy or idle): its timer is set out of reach (every ~24.8 days)
    // and its gauges replaced by event-loop-delay.ts's, under the same names.
    // nodejs_eventloop_lag_seconds (a setImmediate at scrape time) stays.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: PROM_CLIENT_LOOP_TIMER_MS });
    for (const name of EVENT_LOOP_DELAY_METRICS) registry.removeSingleMetric(name);
    registerEventLoopDelay(registry);
  }
  // Shared by /mutate and /validate, so the cap is one for the whole process.
  const denialChildren = new Map<string, Counter.Internal>();
  let otherDenials: Counter.Internal | undefined;
  const denials = new Counter({
    name: 'ws_drain_denials_total',
    help: `Requests ws-drain denied, by the namespace of the pod or workload (past ${MAX_DENIAL_NAMESPACES} namespaces, the rest count as "${OTHER_NAMESPACES}").`,
    // Not `namespace`: Prometheus would rename it to exported_namespace (the
    // scrape target's own namespace label wins).
    labelNames: ['request_namespace'],
    registers: [registry],
  });
  // The answer cache's size, read at scrape time: nothing per review.
  new Gauge({
    name: 'ws_drain_answer_cache_entries',
    help: 'Answers held by the answer cache (serve --answer-cache-size bounds it).',
    registers: [registry],
    collect() {
      this.set(answerCache().entries);
    },
  });
  new Gauge({
    name: 'ws_drain_answer_cache_bytes',
    help: 'Bytes of request and answer text the answer cache holds (at most 16 KiB per entry of --answer-cache-size).',
    registers: [registry],
    collect() {
      this.set(answerCache().bytes);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'ws_drain_admission_requests_total',
      help: 'AdmissionReview requests answered, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'ws_drain_admission_duration_seconds',
      help: 'Time from parsed AdmissionReview to response, by outcome.',
      labelNames: ['outcome'],
      // Admission decisions take tens to hundreds of microseconds; sub-ms buckets make that visible.
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    injections: new Counter({
      name: 'ws_drain_injections_total',
      help: 'Pods mutated with the drain helper (dry-run requests not counted).',
      registers: [registry],
    }),
    graceRaised: new Counter({
      name: 'ws_drain_grace_raised_total',
      help: 'Pods whose terminationGracePeriodSeconds was raised to cover the drain plan (dry-run not counted).',
      registers: [registry],
    }),
    denials,
    countDenial(namespace) {
      let child = denialChildren.get(namespace);
      if (child === undefined) {
        if (denialChildren.size >= MAX_DENIAL_NAMESPACES) {
          otherDenials ??= denials.labels(OTHER_NAMESPACES);
          child = otherDenials;
        } else {
          child = denials.labels(namespace);
          denialChildren.set(namespace, child);
        }
      }
      child.inc();
    },
    namespaceCacheMisses: new Counter({
      name: 'ws_drain_namespace_cache_misses_total',
      help: 'Admissions for a namespace the informer had not seen yet (its label and defaults not applied).',
      registers: [registry],
    }),
    ...createInformerMetrics(opts.informer === false ? new Registry() : registry),
    reviewThreadJobs: new Counter({
      name: 'ws_drain_review_thread_jobs_total',
      help: 'Large reviews sent to a review thread, by result: answered, invalid (400), busy (queue full: 429), crashed, timed_out (both: an error answer, the thread replaced).',
      labelNames: ['result'],
      registers: [registry],
    }),
    reviewThreadPending: new Gauge({
      name: 'ws_drain_review_thread_pending',
      help: 'Large reviews on a review thread or queued for one, at scrape time.',
      registers: [registry],
      collect() {
        this.set(pendingReviews());
      },
    }),
    answerCacheHits: new Counter({
      name: 'ws_drain_answer_cache_hits_total',
      help: '/mutate reviews answered from the answer cache (the same pod as an earlier review: a rollout\'s replicas).',
      registers: [registry],
    }),
    answerCacheMisses: new Counter({
      name: 'ws_drain_answer_cache_misses_total',
      help: '/mutate reviews the answer cache did not hold, answered by the core (with the cache off: none counted).',
      registers: [registry],
    }),
    connectionsClosed: new Counter({
      name: 'ws_drain_connections_closed_total',
      help: 'Connections the webhook closed on a timeout, by reason: handshake, headers, request (body), stalled (no byte either way), unread_answer (answers not taken).',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

/** The namespace informer's own metrics: one informer per pod (in the primary of serve --workers), so never summed over workers. */
export type InformerMetrics = Pick<WebhookMetrics, 'namespaceWatchErrors' | 'namespaceInformerSynced' | 'namespaceIgnoredAnnotations'>;

export function createInformerMetrics(registry: Registry): InformerMetrics {
  return {
    namespaceWatchErrors: new Counter({
      name: 'ws_drain_namespace_watch_errors_total',
      help: 'Lost namespace watches and failed lists; each is retried with backoff while admission uses the last known namespaces.',
      registers: [registry],
    }),
    namespaceInformerSynced: new Gauge({
      name: 'ws_drain_namespace_informer_synced',
      help: '1 once the namespace informer has listed all namespaces (without an informer: 1).',
      registers: [registry],
    }),
    namespaceIgnoredAnnotations: new Gauge({
      name: 'ws_drain_namespace_ignored_annotations',
      // Not "namespace": Prometheus would rename it to exported_namespace, clashing with the target's own label.
      help: 'ws-drain/ annotations on a Namespace that its pods ignore (invalid, unknown or not a namespace default), by namespace_name.',
      labelNames: ['namespace_name'],
      registers: [registry],
    }),
  };
}

/**
 * The plain-HTTP server of GET /metrics. `collect` renders the exposition text:
 * one process's registry, or (cluster.ts) the sum of the workers' registries.
 */
export function createMetricsServer(collect: () => Promise<string>, contentType: string, logger: Logger): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      collect().then(
        (body) => {
          res.writeHead(200, { 'content-type': contentType });
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
}
