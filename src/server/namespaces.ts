// The namespaces admission reads (opt-in label, ws-drain/* defaults), from an
// informer: one list, then a watch, kept in memory (src/kube/list-watch.ts).
// Admission reads only this cache and never calls the API server. A lost
// watch is retried with exponential backoff (counted, logged as JSON); until
// it is back, admission keeps using the last state it saw. /readyz waits for
// the first list.
import { z } from 'zod';
import { withNamespaceDefaults, type NamespaceView } from '../core/namespace-defaults.js';
import type { WebhookConfig } from '../core/types.js';
import type { KubeConnection } from '../kube/connection.js';
import { startListWatch } from '../kube/list-watch.js';
import type { Logger } from './logger.js';
import type { InformerMetrics, WebhookMetrics } from './metrics.js';

export interface NamespaceCache {
  /** The namespace as last seen; `known: false` when the cache does not have it. */
  view(name: string): NamespaceView;
  /** True once the first list has completed (always true without an informer). */
  synced(): boolean;
  stop(): Promise<void>;
}

/** What admission needs of a namespace, as plain data (what serve --workers sends its workers: namespace-ipc.ts). */
export interface NamespaceData {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Hears every change the informer sees (the primary of serve --workers forwards them). */
export interface NamespaceListener {
  set(namespace: NamespaceData): void;
  delete(name: string): void;
  /** The first list is complete. */
  synced(): void;
}

export interface NamespaceInformer extends NamespaceCache {
  /** Every namespace the informer holds now. */
  all(): NamespaceData[];
}

/** Counts the admissions that found no namespace in `cache` (not listed yet, or too new). */
export function countingMisses(cache: NamespaceCache, metrics: Pick<WebhookMetrics, 'namespaceCacheMisses'>): NamespaceCache {
  return {
    view(name) {
      const view = cache.view(name);
      if (view.known === false) metrics.namespaceCacheMisses.inc();
      return view;
    },
    synced: () => cache.synced(),
    stop: () => cache.stop(),
  };
}

/**
 * No informer (`serve --dev`, or --namespace-source=none): every namespace
 * reads as one without a ws-drain.io/inject label or ws-drain/ annotations.
 */
export function noNamespaces(): NamespaceCache {
  return {
    view: (name) => ({ name }),
    synced: () => true,
    stop: async () => {},
  };
}

export interface InformerOptions {
  /** The API server (src/kube/connect.ts: the pod's service account, or a kubeconfig). */
  connection: KubeConnection;
  config: WebhookConfig;
  logger: Logger;
  metrics: InformerMetrics;
  listener?: NamespaceListener;
  /** First retry delay after a lost watch or failed list; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * The only fields admission reads; zod drops the rest (managedFields, spec,
 * status), so the cache holds little more than the labels and annotations.
 */
const NamespaceSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
});
type Namespace = z.infer<typeof NamespaceSchema>;

const NAMESPACES_PATH = '/api/v1/namespaces';

const dataOf = (ns: Namespace): NamespaceData => ({ name: ns.metadata.name, labels: ns.metadata.labels ?? {}, annotations: ns.metadata.annotations ?? {} });

/** Starts the informer and returns at once: synced() turns true after the first list. */
export function startNamespaceInformer(opts: InformerOptions): NamespaceInformer {
  const { logger, metrics, config, listener } = opts;
  let synced = false;
  // What was last reported per namespace, so a namespace is logged once per change, not per event.
  const reported = new Map<string, string>();
  // Each namespace object the cache holds, read once: labels, annotations and
  // defaults (parsed here, not per admitted pod). Every event and list brings
  // a new object, so a changed namespace is read again; a dropped one is
  // garbage with its entry.
  const views = new WeakMap<Namespace, NamespaceView>();
  const viewOf = (ns: Namespace): NamespaceView => {
    let view = views.get(ns);
    if (view === undefined) {
      view = withNamespaceDefaults(dataOf(ns), config);
      views.set(ns, view);
    }
    return view;
  };

  const report = (ns: Namespace): void => {
    const name = ns.metadata.name;
    const ignored = viewOf(ns).defaults?.ignored ?? [];
    const key = JSON.stringify(ignored);
    if (reported.get(name) === key) return;
    reported.set(name, key);
    if (ignored.length > 0) {
      metrics.namespaceIgnoredAnnotations.set({ namespace_name: name }, ignored.length);
      logger.warn({ namespace: name, ignored }, 'namespace has ws-drain/ annotations its pods ignore');
    } else {
      metrics.namespaceIgnoredAnnotations.remove({ namespace_name: name });
    }
  };

  const changed = (ns: Namespace): void => {
    report(ns);
    listener?.set(dataOf(ns));
  };

  metrics.namespaceInformerSynced.set(0);
  const informer = startListWatch({
    connection: opts.connection,
    path: NAMESPACES_PATH,
    schema: NamespaceSchema,
    ...(opts.initialBackoffMs === undefined ? {} : { initialBackoffMs: opts.initialBackoffMs }),
    ...(opts.maxBackoffMs === undefined ? {} : { maxBackoffMs: opts.maxBackoffMs }),
    handlers: {
      add: changed,
      update: changed,
      delete(ns) {
        listener?.delete(ns.metadata.name);
        reported.delete(ns.metadata.name);
        metrics.namespaceIgnoredAnnotations.remove({ namespace_name: ns.metadata.name });
      },
      listed(count) {
        if (synced) {
          logger.info({ namespaces: count }, 'namespaces listed again');
          return;
        }
        // Listed once: the cache holds every namespace, even if the watch after it fails (it is retried).
        synced = true;
        metrics.namespaceInformerSynced.set(1);
        listener?.synced();
        logger.info({ namespaces: count, server: opts.connection.server }, 'namespace informer synced');
      },
      error(err, retryInMs) {
        metrics.namespaceWatchErrors.inc();
        logger.warn({ err: err.message.slice(0, 300), retryInMs, synced }, 'namespace watch lost; admission keeps the last known namespaces');
      },
      recovered() {
        logger.info('namespace watch re-established');
      },
      expired(resourceVersion) {
        // Not an error: the API server compacted past the watch's position (after a long disconnection, say).
        logger.info({ resourceVersion }, 'namespace watch expired (410 Gone); listing again');
      },
    },
  });

  return {
    view(name) {
      const ns = informer.get(name);
      return ns === undefined ? { name, known: false } : viewOf(ns);
    },
    all: () => informer.list().map(dataOf),
    synced: () => synced,
    stop: () => informer.stop(),
  };
}
