// How each proxy writes its timeouts. Each parser accepts exactly what its
// controller accepts and returns seconds, or undefined for a value the
// controller itself would reject (check then says it cannot read it rather
// than guessing).

/**
 * ingress-nginx (kubernetes/ingress-nginx): `nginx.ingress.kubernetes.io/proxy-read-timeout`
 * and `proxy-send-timeout` annotations, and the ConfigMap keys of the same
 * name, are whole seconds ("3600"); the controller reads them as integers and
 * ignores anything else ("60s" is not accepted).
 */
export function parseIngressNginxSeconds(value: string): number | undefined {
  const v = value.trim();
  return /^\d{1,9}$/.test(v) ? Number(v) : undefined;
}

const NGINX_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  M: 2_592_000,
  y: 31_536_000,
};

/**
 * nginx's time syntax (ngx_parse_time), used by ingress-nginx's
 * `worker-shutdown-timeout` ConfigMap key ("240s") and by the NGINX Inc.
 * controller's `nginx.org/proxy-read-timeout` annotations ("60s"): one or more
 * number+unit parts, optionally separated by spaces ("1h 30m"), units ms s m h
 * d w M y; a bare number is seconds.
 */
export function parseNginxTime(value: string): number | undefined {
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v);
  if (v === '') return undefined;
  const part = /(\d{1,9})(ms|s|m|h|d|w|M|y) */y;
  let total = 0;
  let at = 0;
  while (at < v.length) {
    part.lastIndex = at;
    const m = part.exec(v);
    if (!m) return undefined;
    total += Number(m[1]) * NGINX_UNITS[m[2]!]!;
    at = part.lastIndex;
  }
  return total;
}

/**
 * Gateway API Duration (GEP-2257), used by HTTPRoute `rules[].timeouts`:
 * 1 to 4 parts of 1-5 digits and a unit h, m, s or ms ("10s", "1h30m",
 * "500ms"); no decimals, signs or spaces. "0s" means no timeout.
 */
export function parseGatewayDuration(value: string): number | undefined {
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(/([0-9]{1,5})(h|ms|m|s)/g)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
  }
  return total;
}

/** ingress-nginx defaults (its ConfigMap documentation), used when neither annotation nor ConfigMap sets a value. */
export const INGRESS_NGINX_DEFAULTS = {
  proxyReadTimeoutSeconds: 60,
  proxySendTimeoutSeconds: 60,
  workerShutdownTimeoutSeconds: 240,
} as const;

/** NGINX Inc. controller default for nginx.org/proxy-read-timeout and proxy-send-timeout. */
export const NGINX_INC_DEFAULT_TIMEOUT_SECONDS = 60;

/**
 * AWS Load Balancer Controller: `alb.ingress.kubernetes.io/load-balancer-attributes`
 * is a comma list of key=value ("idle_timeout.timeout_seconds=600,routing.http2.enabled=true").
 * Returns the ALB idle timeout in seconds (1-4000), undefined when the attribute
 * is absent, or 'invalid' when the list or the value is malformed.
 */
export function parseAlbIdleTimeout(attributes: string): number | undefined | 'invalid' {
  let found: number | undefined;
  for (const part of attributes.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return 'invalid';
    if (item.slice(0, eq).trim() !== 'idle_timeout.timeout_seconds') continue;
    const v = item.slice(eq + 1).trim();
    if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 4000) return 'invalid';
    found = Number(v);
  }
  return found;
}

/** The ALB's idle timeout when the attribute is not set. */
export const ALB_DEFAULT_IDLE_TIMEOUT_SECONDS = 60;

/**
 * GKE Ingress: the Service annotation `cloud.google.com/backend-config` (or the
 * older `beta.cloud.google.com/backend-config`) is JSON naming a BackendConfig
 * for all ports ({"default": "name"}) or per port ({"ports": {"80": "name"}}).
 * Returns the BackendConfig name for a Service port (number or name), or
 * 'invalid' for JSON of another shape.
 */
export function backendConfigFor(annotation: string, port: { port: number; name?: string | null | undefined }): string | undefined | 'invalid' {
  let value: unknown;
  try {
    value = JSON.parse(annotation);
  } catch {
    return 'invalid';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'invalid';
  const v = value as { default?: unknown; ports?: unknown };
  if (v.ports !== undefined) {
    if (typeof v.ports !== 'object' || v.ports === null || Array.isArray(v.ports)) return 'invalid';
    const ports = v.ports as Record<string, unknown>;
    const named = ports[String(port.port)] ?? (port.name ? ports[port.name] : undefined);
    if (named !== undefined) return typeof named === 'string' ? named : 'invalid';
  }
  if (v.default !== undefined) return typeof v.default === 'string' ? v.default : 'invalid';
  return undefined;
}

/** The GCP backend service timeout without a BackendConfig: for WebSockets, the longest a connection may stay open. */
export const GCLB_DEFAULT_BACKEND_TIMEOUT_SECONDS = 30;
