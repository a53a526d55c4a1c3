// The namespaces admission reads (opt-in label, ws-drain/* defaults), from an
// informer: one list, then a watch, kept in memory. Admission reads only this
// cache and never calls the API server. A lost watch is retried with
// exponential backoff (counted, logged as JSON); until it is back, admission
// keeps using the last state it saw. /readyz waits for the first list.
import type { KubeConfig, V1Namespace } from '@kubernetes/client-node';
import { withNamespaceDefaults, type NamespaceView } from '../core/namespace-defaults.js';
import type { WebhookConfig } from '../core/types.js';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

export interface NamespaceCache {
  /** The namespace as last seen; `known: false` when the cache does not have it. */
  view(name: string): NamespaceView;
  /** True once the first list has completed (always true without an informer). */
  synced(): boolean;
  stop(): Promise<void>;
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
  kubeConfig: KubeConfig;
  config: WebhookConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  /** First retry delay after a lost watch or failed list; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

const NAMESPACES_PATH = '/api/v1/namespaces';

/** Starts the informer and returns at once: synced() turns true after the first list. */
export async function startNamespaceInformer(opts: InformerOptions): Promise<NamespaceCache> {
  // Loaded only with an informer: serve --dev never pays for the Kubernetes client.
  const { CoreV1Api, ListWatch, Watch } = await import('@kubernetes/client-node');
  const { logger, metrics, config } = opts;
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  // ListWatch is client-node's informer with its cache (get/list); autoStart off: attempt() starts it.
  const informer = new ListWatch<V1Namespace>(NAMESPACES_PATH, new Watch(opts.kubeConfig), () => core.listNamespace(), false);
  const initialBackoff = opts.initialBackoffMs ?? 1_000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  let backoff = initialBackoff;
  let synced = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let failedAttempt = false;
  // What was last reported per namespace, so a namespace is logged once per change, not per event.
  const reported = new Map<string, string>();
  // Each namespace object the cache holds, read once: labels, annotations and
  // defaults (parsed here, not per admitted pod). The informer replaces the
  // object on every change, so a changed namespace is read again; a dropped
  // one is garbage with its entry.
  const views = new WeakMap<V1Namespace, NamespaceView>();
  const viewOf = (ns: V1Namespace, name: string): NamespaceView => {
    let view = views.get(ns);
    if (view === undefined) {
      view = withNamespaceDefaults({ name, labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} }, config);
      views.set(ns, view);
    }
    return view;
  };

  const report = (ns: V1Namespace): void => {
    const name = ns.metadata?.name;
    if (!name) return;
    const ignored = viewOf(ns, name).defaults?.ignored ?? [];
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
  informer.on('add', report);
  informer.on('update', report);
  informer.on('delete', (ns) => {
    const name = ns.metadata?.name;
    if (!name) return;
    reported.delete(name);
    metrics.namespaceIgnoredAnnotations.remove({ namespace_name: name });
  });
  informer.on('error', (err: unknown) => {
    failedAttempt = true;
    if (stopped) return;
    metrics.namespaceWatchErrors.inc();
    // Jitter, so replicas that lost the API server together do not come back in step.
    const delay = Math.round(backoff * (0.8 + Math.random() * 0.4));
    logger.warn({ err: errorText(err), retryInMs: delay, synced }, 'namespace watch lost; admission keeps the last known namespaces');
    backoff = Math.min(backoff * 2, maxBackoff);
    clearTimeout(retry);
    retry = setTimeout(() => void attempt(), delay);
  });

  async function attempt(): Promise<void> {
    if (stopped) return;
    failedAttempt = false;
    try {
      await informer.start();
    } catch (err) {
      // start() reports through 'error'; anything thrown is a bug in the chain: retry the same way.
      failedAttempt = true;
      logger.error({ err: errorText(err) }, 'namespace informer failed to start');
      metrics.namespaceWatchErrors.inc();
      retry = setTimeout(() => void attempt(), backoff);
      return;
    }
    if (stopped) return;
    // Listed once: the cache holds every namespace, even if the watch after it failed (it is retried).
    const firstSync = !synced && informer.latestResourceVersion() !== '';
    if (firstSync) {
      synced = true;
      metrics.namespaceInformerSynced.set(1);
      logger.info({ namespaces: informer.list().length }, 'namespace informer synced');
    }
    // A resolved start() without an 'error' on the way: watching again.
    if (failedAttempt) return;
    if (!firstSync && backoff !== initialBackoff) logger.info('namespace watch re-established');
    backoff = initialBackoff;
  }
  metrics.namespaceInformerSynced.set(0);
  void attempt();

  return {
    view(name) {
      const ns = informer.get(name);
      if (ns === undefined) {
        metrics.namespaceCacheMisses.inc();
        return { name, known: false };
      }
      return viewOf(ns, name);
    },
    synced: () => synced,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await informer.stop();
    },
  };
}

/** One short line: client-node's ApiException carries the whole response (headers too) in its message. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: number | string; statusCode?: number; body?: unknown };
  if (typeof e.code === 'number' && e.body !== undefined) {
    let reason = '';
    try {
      const status: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      if (typeof status === 'object' && status !== null && 'message' in status) reason = String(status.message);
    } catch {
      // not a Status: the code says enough
    }
    return `HTTP ${e.code}${reason ? `: ${reason}` : ''}`.slice(0, 300);
  }
  const code = e.statusCode ?? e.code;
  return (code === undefined ? e.message : `${e.message} (${String(code)})`).slice(0, 300);
}
