// The timing plan: grace = ceil((D + S + C) × (1 + M)), and what the pod's own
// terminationGracePeriodSeconds becomes under each enforce mode.

import type { DrainRequest } from './annotations.js';
import type { Plan, WebhookConfig } from './types.js';

/** What the API server defaults terminationGracePeriodSeconds to before admission. */
export const KUBERNETES_DEFAULT_GRACE_SECONDS = 30;

/**
 * ceil((D + S + C) × (1 + M)) in whole seconds. Computed in integers
 * (milliseconds × parts per million, as BigInt) so that 330 × 1.3 is 429, not
 * the 430 that binary floating point would give.
 */
export function requiredGraceSeconds(d: number, s: number, c: number, margin: number): number {
  const totalMs = BigInt(Math.round(d * 1000)) + BigInt(Math.round(s * 1000)) + BigInt(Math.round(c * 1000));
  const factorPpm = 1_000_000n + BigInt(Math.round(margin * 1_000_000));
  const scaled = totalMs * factorPpm; // seconds × 10^9
  const unit = 1_000_000_000n;
  const whole = scaled / unit + (scaled % unit === 0n ? 0n : 1n);
  return Number(whole);
}

export type GraceOutcome =
  | { kind: 'ok'; graceSeconds: number; warning?: string }
  | { kind: 'deny'; message: string };

/**
 * Applies the enforce mode and the webhook's cap to the pod's current grace
 * period (`undefined`/`null` reads as Kubernetes' default of 30).
 */
export function resolveGrace(
  required: number,
  current: number | null | undefined,
  enforce: Plan['enforce'],
  config: WebhookConfig,
): GraceOutcome {
  if (required > config.maxGraceSeconds) {
    return {
      kind: 'deny',
      message:
        `the drain plan needs terminationGracePeriodSeconds ${required}, which exceeds --max-grace=${config.maxGraceSeconds} ` +
        `by ${required - config.maxGraceSeconds} seconds; lower ws-drain/session-p95, prestop-delay, cleanup or grace-margin`,
    };
  }
  const have = current ?? KUBERNETES_DEFAULT_GRACE_SECONDS;
  if (have >= required) return { kind: 'ok', graceSeconds: have };
  switch (enforce) {
    case 'raise':
      return {
        kind: 'ok',
        graceSeconds: required,
        warning: `terminationGracePeriodSeconds raised from ${have} to ${required} for the drain plan`,
      };
    case 'reject':
      return {
        kind: 'deny',
        message:
          `terminationGracePeriodSeconds is ${have} but the drain plan needs at least ${required} ` +
          `(ws-drain/enforce: reject); set terminationGracePeriodSeconds: ${required}`,
      };
    case 'warn':
      return {
        kind: 'ok',
        graceSeconds: have,
        warning: `terminationGracePeriodSeconds ${have} is below the ${required} the drain plan needs; kept (enforce: warn)`,
      };
  }
}

/** Builds the plan from a parsed request, the folded native-sleep seconds and the chosen containers. */
export function buildPlan(
  request: DrainRequest,
  foldedSleepSeconds: number,
  containers: Plan['containers'],
  graceSeconds: number | undefined,
): Plan {
  const d = request.prestopDelaySeconds + foldedSleepSeconds;
  const required = requiredGraceSeconds(d, request.sessionP95Seconds, request.cleanupSeconds, request.margin);
  const plan: Plan = {
    mode: request.mode,
    enforce: request.enforce,
    prestopDelaySeconds: d,
    sessionP95Seconds: request.sessionP95Seconds,
    cleanupSeconds: request.cleanupSeconds,
    margin: request.margin,
    requiredGraceSeconds: required,
    graceSeconds: graceSeconds ?? required,
    containers,
  };
  if (foldedSleepSeconds > 0) plan.foldedSleepSeconds = foldedSleepSeconds;
  if (request.signal) plan.signal = request.signal;
  if (request.http) plan.http = request.http;
  if (request.from) plan.from = request.from;
  if (request.namespaceIgnored && request.namespaceIgnored.length > 0) plan.namespaceIgnored = request.namespaceIgnored;
  return plan;
}

/**
 * The ws-drain/plan annotation text. Containers that watch the same ports
 * (every app under ws-drain/ports, and the proxies waiting on them) would
 * repeat the list once per container; the most common non-empty list is
 * written once as a top-level "ports", and a container entry without "ports"
 * watches that list.
 */
export function planAnnotation(plan: Plan): string {
  if (plan.containers.length < 2) return JSON.stringify(plan);
  const counts = new Map<string, { n: number; ports: number[] }>();
  for (const c of plan.containers) {
    if (c.ports.length === 0) continue; // nothing to save on an empty list
    const key = c.ports.join(',');
    const seen = counts.get(key);
    if (seen) seen.n++;
    else counts.set(key, { n: 1, ports: c.ports });
  }
  let common: { key: string; n: number; ports: number[] } | undefined;
  for (const [key, v] of counts) if (common === undefined || v.n > common.n) common = { key, ...v };
  if (common === undefined || common.n < 2) return JSON.stringify(plan);
  const shared = common.key;
  return JSON.stringify({
    ...plan,
    ports: common.ports,
    containers: plan.containers.map((c) => {
      if (c.ports.join(',') !== shared) return c;
      // Spelled out: rest destructuring was a tenth of an admission of 900 containers.
      return { name: c.name, role: c.role, why: c.why };
    }),
  });
}
