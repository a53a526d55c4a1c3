// Unknown ws-drain/ keys are bad input, whether or not the pod opted in: a
// typo in the opt-in key (ws-drain/session_p95) would otherwise leave the pod
// running undrained with nobody told. The guard ValidatingAdmissionPolicy
// denies the same keys (test/manifests checks its list against KNOWN_KEYS).

import { ANNOTATION, KNOWN_KEYS, quote } from './annotations.js';
import { PREFIX } from './types.js';

/** The ws-drain/ keys of an annotation map that ws-drain neither reads nor writes, sorted. */
export function unknownKeys(annotations: Readonly<Record<string, string>>): string[] {
  return Object.keys(annotations)
    .filter((k) => k.startsWith(PREFIX) && !KNOWN_KEYS.has(k))
    .sort();
}

/** Keys named one by one in a denial; the rest are counted (a pod may carry thousands). */
const MAX_NAMED = 10;

/** One message per unknown key: "did you mean" when a known key is close, else the list of keys. */
export function unknownKeyErrors(annotations: Readonly<Record<string, string>>): string[] {
  const keys = unknownKeys(annotations);
  if (keys.length === 0) return []; // nearly every pod
  const named = keys.slice(0, MAX_NAMED).map((key) => {
    const close = suggestKeys(key);
    if (close.length > 0) return `unknown annotation ${quote(key)}: did you mean ${close.join(' or ')}?`;
    const userKeys = Object.values(ANNOTATION).map((k) => k.slice(PREFIX.length));
    return `unknown annotation ${quote(key)}; known keys under ${PREFIX}: ${userKeys.join(', ')}`;
  });
  const more = keys.length - named.length;
  return more > 0 ? [...named, `${more} more unknown ${PREFIX} annotation${more === 1 ? '' : 's'}`] : named;
}

// `_`, `.` and spaces for `-`, and case: the spellings people reach for first.
const normalise = (name: string): string => name.trim().toLowerCase().replace(/[\s_.]+/g, '-');

/**
 * Known keys close to `key`: equal after normalising, else the nearest by
 * edit distance (adjacent swaps count once) within 1 for short names and 2
 * for names of 5 characters or more. Empty when nothing is close enough to
 * be a typo rather than a different idea.
 */
export function suggestKeys(key: string): string[] {
  const name = normalise(key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key);
  // Long names cannot be typos of our short keys; also bounds the work per key.
  if (name.length > 64) return [];
  const known = [...KNOWN_KEYS].map((k) => ({ key: k, name: k.slice(PREFIX.length) }));
  const exact = known.filter((k) => k.name === name);
  if (exact.length > 0) return exact.map((k) => k.key);
  const limit = name.length >= 5 ? 2 : 1;
  let best = limit + 1;
  let found: string[] = [];
  for (const k of known) {
    const d = editDistance(name, k.name);
    if (d < best) {
      best = d;
      found = [k.key];
    } else if (d === best) found.push(k.key);
  }
  return best <= limit ? found : [];
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
