// Kubernetes label selectors as the API server evaluates them: the webhook's
// namespaceSelector/objectSelector, a workload's spec.selector, a Service's
// selector map.
import type { LabelSelector } from './objects.js';

type Labels = Readonly<Record<string, string>>;

/** A metav1.LabelSelector; absent or empty selects everything (as in webhook selectors). */
export function matchesSelector(selector: LabelSelector | null | undefined, labels: Labels | null | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !values.includes(l[r.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[r.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        // The API server rejects unknown operators at write time; treat as no match.
        return false;
    }
  }
  return true;
}

/** A Service's selector map: empty or absent selects nothing (a Service without selector has manual endpoints). */
export function serviceSelects(selector: Labels | null | undefined, labels: Labels | null | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  const l = labels ?? {};
  return entries.every(([k, v]) => l[k] === v);
}
