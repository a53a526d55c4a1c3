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
