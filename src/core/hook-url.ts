// The pod's own httpGet preStop, written as the --hook-url and --hook-header
// values the helper parses (Go's net/url). One grammar on both sides: what
// kubelet would send, the helper sends; what kubelet could never send (a host
// with a space, a header value with CR/LF) is refused here with a reason,
// never passed on for the helper to refuse at termination.

import { BAD_ESCAPE } from './annotations.js';

export type HookPart = { ok: true; value: string } | { ok: false; error: string };

// RFC 1123 host names (and dotted IPv4), as kubelet dials them.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ZONE = /^[A-Za-z0-9_.\-]+$/;

/** RFC 4291 text form (with an optional trailing IPv4 and %zone), as Go's net.ParseIP and url.Parse take it. */
export function isIPv6(text: string): boolean {
  const [addr = '', zone, extra] = text.split('%');
  if (extra !== undefined || (zone !== undefined && !ZONE.test(zone))) return false;
  const halves = addr.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let width = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i] as string;
    if (i === all.length - 1 && IPV4.test(g)) width += 2;
    else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) width += 1;
    else return false;
  }
  return halves.length === 2 ? width <= 7 : width === 8;
}
// RFC 7230 token: a header name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters other than tab: Go's HTTP client refuses them in header values.
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
// Characters Go keeps as they are in a path it re-serialises (validEncoded); the rest is %-escaped.
const PATH_KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@/[\]]/;
const QUERY_KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?[\]]/;

const UTF8 = new TextEncoder();

function escapeExcept(text: string, keep: RegExp, keepEscapes: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (keep.test(ch)) out += ch;
    else if (ch === '%' && keepEscapes && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) out += ch;
    else {
      // Whole code points, so a surrogate pair is escaped as its UTF-8 bytes.
      const cp = text.codePointAt(i) as number;
      const char = String.fromCodePoint(cp);
      for (const b of UTF8.encode(char)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
      i += char.length - 1;
    }
  }
  return out;
}

/**
 * The request target kubelet sends for httpGet.path: it url.Parse()s the path
 * and, when that fails (a bad % escape, a control character), takes it
 * literally and escapes it whole. The fragment is never sent.
 */
export function hookPath(raw: string): string {
  const path = raw === '' ? '/' : raw.startsWith('/') ? raw : `/${raw}`;
  if (BAD_ESCAPE.test(path) || /[\x00-\x1f\x7f]/.test(path)) return escapeExcept(path, PATH_KEEP, false);
  const hash = path.indexOf('#');
  const target = hash < 0 ? path : path.slice(0, hash);
  const q = target.indexOf('?');
  if (q < 0) return escapeExcept(target, PATH_KEEP, true);
  return escapeExcept(target.slice(0, q), PATH_KEEP, true) + '?' + escapeExcept(target.slice(q + 1), QUERY_KEEP, true);
}

/** httpGet.host as the URL's authority part: a host name, an IPv4 or a bracketed IPv6 (zone %-escaped). */
export function hookHost(raw: string): HookPart {
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (host.includes(':')) {
    if (!isIPv6(host)) return { ok: false, error: `host ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw)} is not an IPv6 address` };
    return { ok: true, value: `[${host.replace('%', '%25')}]` };
  }
  if (!HOST_NAME.test(host)) return { ok: false, error: `host ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw)} is not a host name or IP address` };
  return { ok: true, value: host };
}

/** One httpHeaders entry as `Name: value`, or why Go's HTTP client (kubelet's too) would refuse it. */
export function hookHeader(name: string, value: string): HookPart {
  if (!TOKEN.test(name)) return { ok: false, error: `header name ${JSON.stringify(name)} is not an HTTP token` };
  if (CTL.test(value)) return { ok: false, error: `header ${name} has a control character (CR, LF, ...) in its value` };
  return { ok: true, value: `${name}: ${value}` };
}
