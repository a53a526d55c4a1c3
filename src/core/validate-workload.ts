// A workload's pod template judged at `kubectl apply` time, exactly as its pods
// will be at CREATE (same decideWorkload, same messages), so the person applying
// sees the denial and the warnings instead of a ReplicaSet's FailedCreate event.

import { warning } from './inject.js';
import type { WebhookConfig } from './types.js';
import type { NamespaceView } from './namespace-defaults.js';
import { decideWorkload, documentWarnings, podTemplate } from './workloads.js';

export type Validation =
  | { allowed: true; warnings: string[]; reason: string }
  | { allowed: false; code: 400 | 422; message: string };

/**
 * `oldObject` is the stored object on UPDATE. An update that leaves the pod
 * template as it was (a label, replicas, an Argo CD annotation) is never
 * denied for a template that was already there: that would block every
 * unrelated change; it is allowed with the denial as a warning.
 */
export function validateWorkload(object: unknown, oldObject: unknown, namespace: string | NamespaceView, config: WebhookConfig): Validation {
  const result = decideWorkload(object, config, namespace);
  const extra = documentWarnings(object).map(warning);
  if (result.kind === 'passthrough') return { allowed: true, warnings: extra, reason: 'not-a-workload' };
  const d = result.decision;
  if (d.kind === 'deny') {
    if (oldObject !== undefined && oldObject !== null && sameJson(podTemplate(object), podTemplate(oldObject))) {
      return { allowed: true, warnings: [warning(`pod template unchanged, but its pods would be denied: ${d.message}`), ...extra], reason: 'template-unchanged' };
    }
    return { allowed: false, code: d.code, message: d.message };
  }
  return { allowed: true, warnings: [...d.warnings, ...extra], reason: d.kind === 'mutate' ? 'would-inject' : d.reason };
}

/** Structural equality of two JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
