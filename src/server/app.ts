// The express app: POST /mutate, GET /healthz, GET /readyz. No listening here:
// serve.ts puts it behind TLS; tests drive it with supertest.
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { WebhookConfig } from '../core/types.js';
import { admit, parseAdmissionReview, type AdmissionResult } from './admission.js';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

/** Kubernetes objects are at most ~1.5 MiB in etcd; anything larger is not a real AdmissionReview. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Shared with serve.ts: flipped at the start of shutdown so /readyz fails at once. */
export interface Lifecycle {
  shuttingDown: boolean;
}

export interface AppDeps {
  config: WebhookConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  lifecycle?: Lifecycle;
}

function sendError(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

export function createApp(deps: AppDeps): express.Express {
  const { config, logger, metrics } = deps;
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const app = express();
  // No ETag hashing of every response body, no framework banner.
  app.set('etag', false);
  app.set('x-powered-by', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (lifecycle.shuttingDown) res.status(503).json({ status: 'shutting down' });
    else res.json({ status: 'ready' });
  });

  const jsonBody = express.json({ limit: MAX_BODY_BYTES, strict: true, type: 'application/json' });

  app.post(
    '/mutate',
    (req, res, next) => {
      // The API server always sends application/json; refuse anything else before reading the body.
      if (!req.is('application/json')) {
        metrics.requests.inc({ outcome: 'error' });
        logger.warn({ status: 415, contentType: req.headers['content-type'] }, 'rejected request');
        sendError(res, 415, `unsupported content-type ${JSON.stringify(req.headers['content-type'] ?? '')}: expected application/json`);
        return;
      }
      next();
    },
    jsonBody,
    (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const parsed = parseAdmissionReview(req.body);
      if (!parsed.ok) {
        metrics.requests.inc({ outcome: 'error' });
        logger.warn({ error: parsed.error }, 'rejected malformed admission request');
        sendError(res, 400, parsed.error);
        return;
      }
      const result = admit(parsed.review, config);
      res.json(result.review);
      record(result, Number(process.hrtime.bigint() - started) / 1e9);
    },
  );

  function record(result: AdmissionResult, seconds: number): void {
    metrics.requests.inc({ outcome: result.outcome });
    metrics.duration.observe({ outcome: result.outcome }, seconds);
    if (!result.dryRun && result.outcome === 'mutated') {
      metrics.injections.inc();
      if (result.graceRaised) metrics.graceRaised.inc();
    }
    const line = {
      uid: result.uid,
      namespace: result.namespace,
      pod: result.podName,
      outcome: result.outcome,
      reason: result.reason,
      dryRun: result.dryRun || undefined,
      durationMs: Math.round(seconds * 1e6) / 1e3,
    };
    if (result.outcome === 'error') logger.error(line, 'admission');
    else logger.info(line, 'admission');
  }

  app.use((_req, res) => {
    sendError(res, 404, 'not found: the webhook serves POST /mutate, GET /healthz, GET /readyz');
  });

  // body-parser errors carry a 4xx status and a type; map them to JSON, never to an HTML page.
  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; type?: unknown; message?: unknown };
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
    let message: string;
    switch (e.type) {
      case 'entity.too.large':
        message = `request body larger than ${MAX_BODY_BYTES} bytes`;
        break;
      case 'entity.parse.failed':
        message = 'request body is not valid JSON';
        break;
      default:
        message = typeof e.message === 'string' ? e.message : 'bad request';
    }
    if (req.path === '/mutate') metrics.requests.inc({ outcome: 'error' });
    if (status === 500) {
      logger.error({ err }, 'unexpected error handling request');
      message = 'internal error';
    } else {
      logger.warn({ status, error: message }, 'rejected request');
    }
    if (res.headersSent) return;
    sendError(res, status, message);
  };
  app.use(onError);
  return app;
}
