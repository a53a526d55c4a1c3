// Reads the ws-drain/* annotations of one pod (or pod template) into a typed
// request, or into the full list of what is wrong with them. Nothing here
// looks at the pod spec: container and port names are resolved in inject.ts.

import { parseDuration, parseMargin } from './duration.js';
import { MAX_PORTS_LISTED } from './limits.js';
import {
  INJECTED_ANNOTATION,
  PLAN_ANNOTATION,
  PREFIX,
  type DrainSignal,
  type Enforce,
  type ExistingHookMode,
  type HttpCall,
  type Mode,
  type PlanSource,
  type WebhookConfig,
} from './types.js';

export const ANNOTATION = {
  enabled: `${PREFIX}enabled`,
  sessionP95: `${PREFIX}session-p95`,
  prestopDelay: `${PREFIX}prestop-delay`,
  cleanup: `${PREFIX}cleanup`,
  graceMargin: `${PREFIX}grace-margin`,
  containers: `${PREFIX}containers`,
  proxies: `${PREFIX}proxies`,
  ports: `${PREFIX}ports`,
  drainSignal: `${PREFIX}drain-signal`,
  drainHttp: `${PREFIX}drain-http`,
  mode: `${PREFIX}mode`,
  enforce: `${PREFIX}enforce`,
  existingHook: `${PREFIX}existing-hook`,
} as const;

/**
 * Every key a user may set, plus the two the injector writes: the one list the
 * webhook (unknown-keys.ts) and the guard policy's CEL (checked by
 * test/core/known-keys.test.ts) deny unknown keys against. A new key goes
 * into ANNOTATION (or here) and into the policy's knownKeys.
 */
export const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([
  ...Object.values(ANNOTATION),
  INJECTED_ANNOTATION,
  PLAN_ANNOTATION,
]);

// SIGUSR1 last: to Node it starts the inspector, to Go it does nothing unless
// the program handles it; which signal fits which server: docs/drain-behaviour.md.
export const SIGNALS: readonly DrainSignal[] = ['SIGQUIT', 'SIGUSR2', 'SIGTERM', 'SIGHUP', 'SIGINT', 'SIGUSR1'];
export const MODES: readonly Mode[] = ['drain', 'sleep'];
export const ENFORCE_MODES: readonly Enforce[] = ['raise', 'reject', 'warn'];
export const EXISTING_HOOK_MODES: readonly ExistingHookMode[] = ['auto', 'drain', 'after'];
export const DRAIN_HTTP_METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** A port as written in ws-drain/ports: a number, or a containerPort name still to be resolved. */
export type PortRef = number | string;

/** What the annotations ask for, with defaults filled in from the config. Durations in whole seconds. */
export interface DrainRequest {
  mode: Mode;
  enforce: Enforce;
  prestopDelaySeconds: number;
  sessionP95Seconds: number;
  cleanupSeconds: number;
  margin: number;
  /** Only when ws-drain/containers is set. */
  containers?: string[];
  /** Only when ws-drain/proxies is set: containers that carry the apps' traffic (stay up, never signalled). */
  proxies?: string[];
  /** Only when ws-drain/ports is set. */
  ports?: PortRef[];
  signal?: DrainSignal;
  http?: HttpCall;
  /** When an app's own exec/httpGet preStop runs: as the drain trigger, after the drain, or by recognising it. */
  existingHook: ExistingHookMode;
  /** Where each value came from (decide.ts fills it in; written into the plan). */
  from?: Record<string, PlanSource>;
  /** Namespace annotations that were ignored (keys). */
  namespaceIgnored?: string[];
}

export type OptIn =
  | { kind: 'opted-in' }
  | { kind: 'opted-out' }
  | { kind: 'not-opted-in' }
  | { kind: 'invalid'; error: string };

/**
 * Whether the pod asked for ws-drain. Reads only ws-drain/enabled and
 * ws-drain/session-p95, so a pod that did not opt in is never validated further.
 */
export function readOptIn(annotations: Readonly<Record<string, string>>): OptIn {
  const enabled = annotations[ANNOTATION.enabled];
  if (enabled !== undefined) {
    const v = enabled.trim();
    if (v === 'false') return { kind: 'opted-out' };
    if (v === 'true') return { kind: 'opted-in' };
    return { kind: 'invalid', error: `${ANNOTATION.enabled}: ${quote(enabled)} is not accepted; use "true" or "false"` };
  }
  return annotations[ANNOTATION.sessionP95] !== undefined ? { kind: 'opted-in' } : { kind: 'not-opted-in' };
}

/** Shows a user's value in a message: JSON-quoted (escapes control characters) and bounded in length. */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}

const DURATION_FORM = 'use a Go/Kubernetes duration such as 90s, 5m, 1h30m, or a whole number of seconds';

export type AnnotationResult = { ok: true; request: DrainRequest } | { ok: false; errors: string[] };

/**
 * Parses every ws-drain/* annotation; collects all errors rather than stopping
 * at the first. Unknown keys are not its concern: decide() denies them first,
 * for every pod (unknown-keys.ts).
 */
export function parseAnnotations(
  annotations: Readonly<Record<string, string>>,
  config: WebhookConfig,
): AnnotationResult {
  const errors: string[] = [];

  const optIn = readOptIn(annotations);
  if (optIn.kind === 'invalid') errors.push(optIn.error);

  const value = (key: string): string | undefined => {
    const v = annotations[key];
    return v === undefined ? undefined : v.trim();
  };

  const duration = (key: string, fallback: number): { raw: number; seconds: number } => {
    const text = value(key);
    if (text === undefined) return { raw: fallback, seconds: Math.ceil(fallback) };
    const parsed = parseDuration(text);
    if (parsed === undefined) {
      errors.push(`${key}: ${quote(text)} is not a duration; ${DURATION_FORM}`);
      return { raw: fallback, seconds: Math.ceil(fallback) };
    }
    // The helper and Kubernetes count whole seconds; round up so no budget shrinks.
    return { raw: parsed, seconds: Math.ceil(parsed) };
  };

  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const text = value(key);
    if (text === undefined) return fallback;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    errors.push(`${key}: ${quote(text)} is not accepted; use one of ${allowed.join(', ')}`);
    return fallback;
  };

  const mode = oneOf(ANNOTATION.mode, MODES, 'drain');
  const enforce = oneOf(ANNOTATION.enforce, ENFORCE_MODES, 'raise');
  const session = duration(ANNOTATION.sessionP95, config.defaultSessionP95Seconds);
  if (mode === 'drain' && session.raw <= 0 && value(ANNOTATION.sessionP95) !== undefined) {
    errors.push(
      `${ANNOTATION.sessionP95}: ${quote(value(ANNOTATION.sessionP95) ?? '')} must be longer than 0s in drain mode; ` +
        `use a duration such as 5m, or set ${ANNOTATION.mode}: sleep`,
    );
  }
  const delay = duration(ANNOTATION.prestopDelay, config.defaultPrestopDelaySeconds);
  const cleanup = duration(ANNOTATION.cleanup, config.defaultCleanupSeconds);

  let margin = config.defaultMargin;
  const marginText = value(ANNOTATION.graceMargin);
  if (marginText !== undefined) {
    const parsed = parseMargin(marginText);
    if (parsed === undefined) {
      errors.push(
        `${ANNOTATION.graceMargin}: ${quote(marginText)} is not a margin; use a percentage such as 30% or a fraction such as 0.3 (0 to 1000%)`,
      );
    } else margin = parsed;
  }

  const existingHook = oneOf(ANNOTATION.existingHook, EXISTING_HOOK_MODES, 'auto');
  const request: DrainRequest = {
    mode,
    enforce,
    existingHook,
    prestopDelaySeconds: delay.seconds,
    sessionP95Seconds: session.seconds,
    cleanupSeconds: cleanup.seconds,
    margin,
  };

  const names = (key: string, example: string): string[] | undefined => {
    const text = value(key);
    if (text === undefined) return undefined;
    const list = splitList(text);
    if (list.length === 0 || list.some((n) => !DNS_LABEL.test(n))) {
      errors.push(`${key}: ${quote(text)} is not accepted; use a comma-separated list of container names such as "${example}"`);
      return undefined;
    }
    return dedupe(list);
  };
  const containers = names(ANNOTATION.containers, 'web,api');
  if (containers) request.containers = containers;
  const proxies = names(ANNOTATION.proxies, 'tls-terminator');
  if (proxies) request.proxies = proxies;

  const portsText = value(ANNOTATION.ports);
  const listed = portsText === undefined ? 0 : countItems(portsText);
  if (portsText !== undefined && listed > MAX_PORTS_LISTED) {
    // Refused before any per-item work: every port is watched, and written into each target's preStop.
    errors.push(`${ANNOTATION.ports}: lists ${listed} ports; at most ${MAX_PORTS_LISTED} (docs/limits.md)`);
  } else if (portsText !== undefined) {
    const items = splitList(portsText);
    const refs: PortRef[] = [];
    const bad: string[] = [];
    for (const item of items) {
      if (/^\d+$/.test(item)) {
        const n = Number(item);
        if (n >= 1 && n <= 65535) refs.push(n);
        else bad.push(item);
      } else if (PORT_NAME.test(item) && /[a-z]/.test(item)) refs.push(item);
      else bad.push(item);
    }
    if (items.length === 0 || bad.length > 0) {
      errors.push(
        `${ANNOTATION.ports}: ${quote(portsText)} is not accepted; use a comma-separated list of port numbers (1-65535) or containerPort names such as "8080,metrics"`,
      );
    } else request.ports = dedupe(refs);
  }

  const signalText = value(ANNOTATION.drainSignal);
  if (signalText !== undefined) {
    if ((SIGNALS as readonly string[]).includes(signalText)) request.signal = signalText as DrainSignal;
    else errors.push(`${ANNOTATION.drainSignal}: ${quote(signalText)} is not accepted; use one of ${SIGNALS.join(', ')}`);
  }

  const httpText = value(ANNOTATION.drainHttp);
  if (httpText !== undefined) {
    const call = parseDrainHttp(httpText);
    if (call) request.http = call;
    else {
      errors.push(
        `${ANNOTATION.drainHttp}: ${quote(httpText)} is not accepted; use "[METHOD ]:PORT/PATH" or "[METHOD ]http://127.0.0.1:PORT/PATH" ` +
          `(loopback only, METHOD one of ${DRAIN_HTTP_METHODS.join(', ')}, a % only as a %XX escape), e.g. "POST :8080/drain"`,
      );
    }
  }

  if (mode === 'sleep') {
    // Sleep mode runs no drain step, so these would be silently ignored.
    for (const key of [ANNOTATION.drainSignal, ANNOTATION.drainHttp, ANNOTATION.existingHook]) {
      if (value(key) !== undefined) errors.push(`${key} has no effect with ${ANNOTATION.mode}: sleep; remove it or use mode drain`);
    }
  }

  return errors.length > 0 ? { ok: false, errors } : { ok: true, request };
}

// RFC 1123 label, as Kubernetes requires for container names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// IANA_SVC_NAME, as Kubernetes requires for containerPort names.
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
// Printable URL characters only: no spaces, quotes or control characters reach the helper.
const URL_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;
/** A % that does not start a %XX escape. */
export const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** Comma-separated items in `text`, counted without splitting it. */
function countItems(text: string): number {
  let n = 1;
  for (let i = text.indexOf(','); i !== -1; i = text.indexOf(',', i + 1)) n++;
  return n;
}

function splitList(text: string): string[] {
  const parts: string[] = []; // by push, not map: docs/performance.md
  for (const p of text.split(',')) parts.push(p.trim());
  // An empty element ("a,,b", trailing comma) is a typo we do not guess around.
  return parts.some((p) => p === '') ? [] : parts;
}

function dedupe<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** `[METHOD ]:PORT/PATH` or `[METHOD ]http://127.0.0.1:PORT/PATH` (also `localhost`), loopback only. */
export function parseDrainHttp(text: string): HttpCall | undefined {
  const m = /^(?:([A-Za-z]+) +)?(?:http:\/\/(?:127\.0\.0\.1|localhost))?:(\d{1,5})(\/\S*)?$/.exec(text);
  if (!m) return undefined;
  const method = (m[1] ?? 'GET').toUpperCase();
  if (!DRAIN_HTTP_METHODS.includes(method)) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const path = m[3] ?? '/';
  // A % must start an escape: the helper (Go's url.Parse) refuses "/drain%" or "/%zz".
  if (!URL_PATH.test(path) || BAD_ESCAPE.test(path)) return undefined;
  return { method, port, path };
}

/** The URL the helper calls for a drain-http request. */
export function drainUrl(call: HttpCall): string {
  return `http://127.0.0.1:${call.port}${call.path}`;
}
