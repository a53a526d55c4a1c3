// Namespace-level settings, as Istio and Linkerd users know them: the label
// ws-drain.io/inject=enabled opts in every pod of the namespace that has a
// TCP port, and ws-drain/* annotations on the Namespace are defaults for its
// pods (the pod's own values win). Pure: the shell hands in the namespace's
// labels and annotations as data (an informer cache in the webhook, Namespace
// documents or a GET in the CLI).
//
// A namespace's value never denies a pod: one typo by the namespace owner must
// not stop every app team's rollout. An invalid, unknown or misplaced
// namespace value is ignored (the webhook default applies) and reported in
// every admission warning of the namespace's pods, in the pod's ws-drain/plan
// ("ignored"), in the webhook's log and metrics, and at `kubectl apply` of the
// Namespace itself (/validate denies a change that introduces one).

import { ANNOTATION, KNOWN_KEYS, parseAnnotations, quote } from './annotations.js';
import { parseDuration } from './duration.js';
import { isMeshProxyName, tcpPorts } from './roles.js';
import type { Pod } from './pod-schema.js';
import { unknownKeyErrors } from './unknown-keys.js';
import { PREFIX, type PlanSource, type WebhookConfig } from './types.js';

/** The label that opts a namespace in (`enabled`) or out (`disabled`, by the webhooks' selectors). */
export const INJECT_LABEL = 'ws-drain.io/inject';
export const INJECT_ENABLED = 'enabled';
export const INJECT_DISABLED = 'disabled';

/** What the core needs of a pod's namespace. */
export interface NamespaceView {
  name: string;
  labels?: Readonly<Record<string, string>> | null;
  annotations?: Readonly<Record<string, string>> | null;
  /** False when the shell could not read the namespace (not in the webhook's cache yet): no label or default applies. */
  known?: boolean;
  /**
   * readNamespaceDefaults of this view, when the shell keeps it: the webhook
   * reads a namespace's annotations once per change of the namespace
   * (withNamespaceDefaults), not once per admitted pod. Absent: read here.
   */
  defaults?: NamespaceDefaults;
}

/** Values every plan has (a webhook default when nobody sets them): ws-drain/plan's "from" always names them. */
const PLAN_VALUE_KEYS: readonly string[] = [
  ANNOTATION.sessionP95,
  ANNOTATION.prestopDelay,
  ANNOTATION.cleanup,
  ANNOTATION.graceMargin,
  ANNOTATION.mode,
  ANNOTATION.enforce,
];

/** Keys that only mean something in drain mode. */
const DRAIN_ONLY_KEYS: readonly string[] = [ANNOTATION.drainSignal, ANNOTATION.drainHttp, ANNOTATION.existingHook];

/** The keys a Namespace may set as defaults. Opt-in is the label; containers and ports name things inside one pod. */
export const NAMESPACE_DEFAULT_KEYS: readonly string[] = [...PLAN_VALUE_KEYS, ...DRAIN_ONLY_KEYS];

export interface NamespaceDefaults {
  /** Valid defaults, trimmed, by annotation key. */
  readonly values: Readonly<Record<string, string>>;
  /** Why each ignored ws-drain/ annotation was ignored: one line per key, naming the fix. */
  readonly ignored: ReadonlyArray<{ key: string; why: string }>;
}

/** Those of a namespace without annotations, or not read: one shared (read-only) value, not three objects per pod. */
const NO_DEFAULTS: NamespaceDefaults = { values: {}, ignored: [] };

export function namespaceView(namespace: string | NamespaceView): NamespaceView {
  return typeof namespace === 'string' ? { name: namespace } : namespace;
}

/** The namespace's valid defaults and what it sets that is ignored. */
export function readNamespaceDefaults(ns: NamespaceView, config: WebhookConfig): NamespaceDefaults {
  const annotations = ns.known !== false ? ns.annotations : undefined;
  if (annotations == null) return NO_DEFAULTS; // a bare name (the CLI, the benches, no informer) or a namespace not read
  const values: Record<string, string> = {};
  const ignored: Array<{ key: string; why: string }> = [];
  const keys = Object.keys(annotations).filter((k) => k.startsWith(PREFIX)).sort();
  // The mode first: whether a value is valid can depend on it (session-p95 0s is valid in sleep mode only).
  const modeText = annotations[ANNOTATION.mode];
  let mode: string | undefined;
  if (modeText !== undefined) {
    const r = parseAnnotations({ [ANNOTATION.enabled]: 'true', [ANNOTATION.mode]: modeText }, config);
    if (r.ok) mode = modeText.trim();
  }
  for (const key of keys) {
    const value = annotations[key]!;
    if (!KNOWN_KEYS.has(key)) {
      ignored.push({ key, why: unknownKeyErrors({ [key]: value })[0] ?? `unknown annotation ${quote(key)}` });
    } else if (key === ANNOTATION.enabled) {
      ignored.push({ key, why: `${key} on a Namespace has no effect: label the namespace ${INJECT_LABEL}=${INJECT_ENABLED} to opt its pods in` });
    } else if (!NAMESPACE_DEFAULT_KEYS.includes(key)) {
      ignored.push({ key, why: `${key} on a Namespace has no effect: it names things inside one pod; set it on the pod template` });
    } else {
      const probe: Record<string, string> = { [ANNOTATION.enabled]: 'true', [key]: value };
      if (mode !== undefined) probe[ANNOTATION.mode] = mode;
      const r = parseAnnotations(probe, config);
      if (r.ok) values[key] = value.trim();
      else ignored.push({ key, why: r.errors.join('; ') });
    }
  }
  return { values, ignored };
}

/** The view with its defaults read now, for a shell that hands the same namespace to many decisions. */
export function withNamespaceDefaults(ns: NamespaceView, config: WebhookConfig): NamespaceView {
  return { ...ns, defaults: readNamespaceDefaults(ns, config) };
}

/** The defaults the shell read with the view, else read now: the same function either way. */
export function namespaceDefaultsOf(ns: NamespaceView, config: WebhookConfig): NamespaceDefaults {
  return ns.defaults ?? readNamespaceDefaults(ns, config);
}

/** True when the namespace's label opts its pods in. */
export function namespaceOptsIn(ns: NamespaceView): boolean {
  return ns.known !== false && ns.labels?.[INJECT_LABEL] === INJECT_ENABLED;
}

/**
 * The pods a namespace label opts in: those with a regular container that
 * declares a TCP containerPort and is not a mesh proxy (by container name; the
 * guard policy's CEL mirrors this list). A Job without ports stays alone.
 */
export function hasSessionCandidate(pod: Pod): boolean {
  return pod.spec.containers.some((c) => !isMeshProxyName(c.name) && tcpPorts(c).length > 0);
}

export interface MergedAnnotations {
  /** The pod's ws-drain/ annotations over the namespace's defaults. */
  annotations: Record<string, string>;
  /** Where each set value came from (keys absent here are webhook defaults). */
  sources: Record<string, 'pod' | 'namespace'>;
  /** Admission warnings: namespace values ignored, and why. */
  warnings: string[];
}

/**
 * The pod's annotations over the namespace's valid defaults. When a namespace
 * default conflicts with the pod's own values, the pod wins and the default
 * gives way (with a warning when the namespace value was meant to apply).
 */
export function mergeNamespaceDefaults(pod: Readonly<Record<string, string>>, ns: NamespaceView, defaults: NamespaceDefaults): MergedAnnotations {
  const annotations: Record<string, string> = {};
  const sources: Record<string, 'pod' | 'namespace'> = {};
  const warnings: string[] = []; // by push, not map: docs/performance.md
  for (const i of defaults.ignored) warnings.push(`namespace ${ns.name}: ignored ${i.why}`);
  // Keys, not entries: no [key, value] array per annotation.
  for (const k of Object.keys(defaults.values)) {
    if (pod[k] === undefined) {
      annotations[k] = defaults.values[k]!;
      sources[k] = 'namespace';
    }
  }
  for (const k of Object.keys(pod)) {
    if (!k.startsWith(PREFIX)) continue;
    annotations[k] = pod[k]!;
    sources[k] = 'pod';
  }
  const drop = (key: string, why?: string): void => {
    delete annotations[key];
    delete sources[key];
    if (why) warnings.push(`namespace ${ns.name}: ${key} not applied: ${why}`);
  };
  const podDrainKeys = DRAIN_ONLY_KEYS.filter((k) => sources[k] === 'pod');
  if (sources[ANNOTATION.mode] === 'namespace' && annotations[ANNOTATION.mode] === 'sleep' && podDrainKeys.length > 0) {
    drop(ANNOTATION.mode, `the pod sets ${podDrainKeys.join(', ')}, which need drain mode`);
  }
  const mode = annotations[ANNOTATION.mode]?.trim() ?? 'drain';
  if (mode === 'sleep') {
    // The namespace's drain settings do not apply to a pod that sleeps.
    for (const k of DRAIN_ONLY_KEYS) if (sources[k] === 'namespace') drop(k);
  }
  if (mode === 'drain' && sources[ANNOTATION.sessionP95] === 'namespace') {
    const s = parseDuration(annotations[ANNOTATION.sessionP95] ?? '');
    if (s !== undefined && s <= 0) drop(ANNOTATION.sessionP95, 'a session-p95 of 0s is for sleep mode, and this pod drains');
  }
  return { annotations, sources, warnings };
}

/** Named in "from" only when set. */
const OPTIONAL_KEYS: readonly string[] = [ANNOTATION.containers, ANNOTATION.ports, ...DRAIN_ONLY_KEYS];
// Each key with its name in the plan's "from" (without the prefix), cut once rather than per pod.
const fields = (keys: readonly string[]): ReadonlyArray<readonly [string, string]> => keys.map((k) => [k, k.slice(PREFIX.length)]);
const PLAN_VALUE_FIELDS = fields(PLAN_VALUE_KEYS);
const OPTIONAL_FIELDS = fields(OPTIONAL_KEYS);

/** ws-drain/plan's "from": the opt-in and each value, by annotation name without the prefix. */
export function planSources(merged: MergedAnnotations, optInFrom: 'pod' | 'namespace'): Record<string, PlanSource> {
  const from: Record<string, PlanSource> = { enabled: optInFrom };
  for (const [k, field] of PLAN_VALUE_FIELDS) from[field] = merged.sources[k] ?? 'default';
  for (const [k, field] of OPTIONAL_FIELDS) {
    const s = merged.sources[k];
    if (s !== undefined) from[field] = s;
  }
  return from;
}

export type NamespaceValidation = { allowed: true; warnings: string[] } | { allowed: false; message: string };

/**
 * A Namespace at CREATE/UPDATE (/validate): a change that brings in an ignored
 * ws-drain/ value is denied, so the namespace owner sees the typo at once; one
 * already there is only warned about, so unrelated changes to the namespace
 * keep working.
 */
export function validateNamespace(ns: NamespaceView, old: NamespaceView | undefined, config: WebhookConfig): NamespaceValidation {
  const now = readNamespaceDefaults(ns, config).ignored;
  const before = old ? readNamespaceDefaults(old, config).ignored : [];
  const label = ns.labels?.[INJECT_LABEL];
  const labelWarning =
    label !== undefined && label !== INJECT_ENABLED && label !== INJECT_DISABLED
      ? [`label ${INJECT_LABEL}=${quote(label)} has no effect; use ${INJECT_ENABLED} or ${INJECT_DISABLED}`]
      : [];
  const fresh = now.filter((i) => !before.some((b) => b.key === i.key && b.why === i.why));
  if (fresh.length > 0) {
    return {
      allowed: false,
      message: `namespace ${ns.name}: ${fresh.map((i) => i.why).join('; ')} (namespace values are defaults for its pods; docs/namespaces.md)`,
    };
  }
  return { allowed: true, warnings: [...now.map((i) => `namespace ${ns.name}: ${i.key} ignored by its pods: ${i.why}`), ...labelWarning] };
}
