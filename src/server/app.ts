// The request listener: POST /mutate and /validate go to the lean handler;
// /healthz and /readyz are two fixed answers. Plain Node, no framework: express
// was loaded for these two probes only and was the largest part of the
// webhook's start time and memory (docs/performance.md). No listening here:
// serve.ts puts it behind TLS; tests drive it with supertest.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AnswerMemo } from './answer-memo.js';
import type { WebhookConfig } from '../core/types.js';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';
import { createMutateHandler, reply } from './mutate-handler.js';
import { noNamespaces, type NamespaceCache } from './namespaces.js';
import type { ReviewPool } from './review-pool.js';

export { MAX_BODY_BYTES } from './mutate-handler.js';

/** Shared with serve.ts, which flips both during shutdown. */
export interface Lifecycle {
  /** From the start of shutdown: /readyz fails. */
  shuttingDown: boolean;
  /** From the listener's close: every answer ends its connection. */
  endingConnections?: boolean;
}

export interface AppDeps {
  config: WebhookConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  lifecycle?: Lifecycle;
  /** Namespace informer cache (namespaces.ts); without one, namespaces have no labels or annotations. */
  namespaces?: NamespaceCache;
  /** Review threads for large reviews (review-pool.ts); without, every review is answered on the event loop. */
  reviews?: ReviewPool;
  /** Answers of /mutate kept for identical pods (answer-memo.ts, made with this `config`); without, each is computed. */
  answers?: AnswerMemo;
}

const HEALTHY = '{"status":"ok"}';
const READY = '{"status":"ready"}';
const SHUTTING_DOWN = '{"status":"shutting down"}';
const NOT_SYNCED = '{"status":"namespaces not synced yet"}';
const NOT_FOUND = JSON.stringify({ error: 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });

export function createApp(deps: AppDeps): RequestListener {
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const cache = deps.namespaces ?? noNamespaces();
  const handlerDeps = { ...deps, namespaces: (name: string) => cache.view(name) };
  const mutate = createMutateHandler(handlerDeps);
  const validate = createMutateHandler(handlerDeps, 'validate');

  return (req: IncomingMessage, res: ServerResponse) => {
    // Once the listener has closed (after the shutdown delay, when endpoints no
    // longer send new connections here), every answer ends its connection: the
    // client's next request opens a new one to a ready replica instead of
    // racing the close of an idle keep-alive socket. Not earlier: reconnecting
    // during the delay would land here again, in a listen queue about to close.
    if (lifecycle.endingConnections === true) res.shouldKeepAlive = false;
    // The API server calls the path from the webhook configuration, possibly with a query (?timeout=10s).
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path === '/mutate') return mutate(req, res);
    if (path === '/validate') return validate(req, res);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/healthz') return reply(res, 200, HEALTHY);
    if (get && path === '/readyz') {
      if (lifecycle.shuttingDown) return reply(res, 503, SHUTTING_DOWN);
      // Answering before the first namespace list would admit pods without their namespace's opt-in and defaults.
      if (!cache.synced()) return reply(res, 503, NOT_SYNCED);
      return reply(res, 200, READY);
    }
    // Node reads and discards the body of a request answered without reading it.
    reply(res, 404, NOT_FOUND);
  };
}
