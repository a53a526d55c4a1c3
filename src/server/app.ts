// The request listener: POST /mutate goes straight to the lean handler (the hot
// path); /healthz, /readyz and everything else go through express. No listening
// here: serve.ts puts it behind TLS; tests drive it with supertest.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express from 'express';
import type { WebhookConfig } from '../core/types.js';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';
import { createMutateHandler } from './mutate-handler.js';
import { answerValidation } from './validate.js';

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
}

export function createApp(deps: AppDeps): RequestListener {
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const mutate = createMutateHandler(deps);
  const validate = createMutateHandler(deps, answerValidation);

  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (lifecycle.shuttingDown) res.status(503).json({ status: 'shutting down' });
    else res.json({ status: 'ready' });
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });
  });

  return (req: IncomingMessage, res: ServerResponse) => {
    // Once the listener has closed (after the shutdown delay, when endpoints no
    // longer send new connections here), every answer ends its connection: the
    // client's next request opens a new one to a ready replica instead of
    // racing the close of an idle keep-alive socket. Not earlier: reconnecting
    // during the delay would land here again, in a listen queue about to close.
    if (lifecycle.endingConnections === true) res.shouldKeepAlive = false;
    // The API server calls the path from the webhook configuration, possibly with a query (?timeout=10s).
    const url = req.url ?? '';
    if (url === '/mutate' || url.startsWith('/mutate?')) mutate(req, res);
    else if (url === '/validate' || url.startsWith('/validate?')) validate(req, res);
    else app(req, res);
  };
}
