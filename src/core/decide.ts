// The single entry of the core for the webhook and the CLI: one pod in, one
// Decision out. Never throws: whatever arrives, the caller gets an answer.

import { z } from 'zod';
import { ANNOTATION, parseAnnotations, readOptIn } from './annotations.js';
import { ALWAYS_EXCLUDED_NAMESPACES } from './config.js';
import { injectionMarks, injectPod, isAlreadyInjected, isWindowsPod, warning } from './inject.js';
import {
  hasSessionCandidate,
  INJECT_DISABLED,
  INJECT_LABEL,
  mergeNamespaceDefaults,
  namespaceOptsIn,
  namespaceDefaultsOf,
  namespaceView,
  planSources,
  type NamespaceView,
} from './namespace-defaults.js';
import { boundedMessage, boundedWarnings, MAX_MESSAGE_CHARS, MAX_WARNINGS } from './limits.js';
import { compiledAfterUse, describeIssues, isPod, PodSchema, StringMap, type Pod } from './pod-schema.js';
import { unknownKeyErrors } from './unknown-keys.js';
import { INJECTED_ANNOTATION, PLAN_ANNOTATION, PREFIX, type Decision, type WebhookConfig } from './types.js';

// Just enough to read the opt-in without judging the rest of a pod that may not have opted in.
export const AnnotationsOnly = z.object({
  metadata: z.object({ annotations: StringMap.nullish(), labels: StringMap.nullish() }).nullish(),
});
const annotationsOnly = compiledAfterUse(AnnotationsOnly);

/**
 * `namespace`: the pod's namespace, with its labels and annotations when the
 * caller has them (namespace opt-in and defaults, namespace-defaults.ts); a
 * bare name is a namespace without ws-drain labels or annotations.
 */
export function decide(pod: unknown, namespace: string | NamespaceView, config: WebhookConfig): Decision {
  try {
    return bounded(decidePod(pod, namespaceView(namespace), config));
  } catch (err) {
    // A bug must not turn into a 500 that blocks every pod: answer with a clear denial instead.
    const reason = err instanceof Error ? err.message : String(err);
    return { kind: 'deny', code: 400, message: boundedMessage([`ws-drain could not process this pod: ${reason}`]) };
  }
}

/** Every answer within the caps of limits.ts, whichever path made it. */
function bounded(d: Decision): Decision {
  if (d.kind === 'deny') return d.message.length > MAX_MESSAGE_CHARS ? { ...d, message: boundedMessage([d.message]) } : d;
  return d.warnings.length > MAX_WARNINGS ? { ...d, warnings: boundedWarnings(d.warnings) } : d;
}

function decidePod(input: unknown, ns: NamespaceView, config: WebhookConfig): Decision {
  const namespace = ns.name;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { kind: 'deny', code: 400, message: 'the admitted object is not a Pod: expected a JSON object' };
  }
  if (ALWAYS_EXCLUDED_NAMESPACES.includes(namespace) || config.excludeNamespaces.includes(namespace)) {
    // Never judged here; but a pod that asks for ws-drain should hear that it will not get it.
    const keys = Object.keys(annotationsOnly().safeParse(input).data?.metadata?.annotations ?? {});
    const why = ALWAYS_EXCLUDED_NAMESPACES.includes(namespace) ? 'always excluded' : 'in --exclude-namespaces';
    const warnings = keys.some((k) => k.startsWith(PREFIX)) ? [warning(`namespace ${namespace} is never injected (${why}); pod left unchanged`)] : [];
    return { kind: 'skip', reason: 'excluded-namespace', warnings };
  }

  const head = annotationsOnly().safeParse(input);
  if (!head.success) {
    return { kind: 'deny', code: 400, message: `malformed pod metadata: ${describeIssues(head.error)}` };
  }
  const annotations = head.data.metadata?.annotations ?? {};
  // The webhooks' selectors never send these (manifests/base); offline injection and check must agree.
  if (ns.labels?.[INJECT_LABEL] === INJECT_DISABLED) return { kind: 'skip', reason: 'excluded-namespace', warnings: [] };
  if (head.data.metadata?.labels?.[INJECT_LABEL] === INJECT_DISABLED) return { kind: 'skip', reason: 'opted-out', warnings: [] };
  // Before the opt-in: a typo in the opt-in key itself must not read as "not opted in".
  const unknown = unknownKeyErrors(annotations);
  if (unknown.length > 0) return { kind: 'deny', code: 422, message: boundedMessage(unknown) };
  const optIn = readOptIn(annotations);
  if (optIn.kind === 'opted-out') return { kind: 'skip', reason: 'opted-out', warnings: [] };
  const byNamespace = optIn.kind === 'not-opted-in' && namespaceOptsIn(ns);
  const unread = ns.known === false ? [warning(`namespace ${namespace} not yet read by ws-drain: its ${INJECT_LABEL} label and defaults were not applied`)] : [];
  if (optIn.kind === 'not-opted-in' && !byNamespace) {
    const stray = Object.keys(annotations).some(
      (k) => k.startsWith(PREFIX) && k !== INJECTED_ANNOTATION && k !== PLAN_ANNOTATION,
    );
    const warnings = stray
      ? [warning('ws-drain/* annotations ignored: add ws-drain/session-p95 or ws-drain/enabled: "true" to opt in'), ...unread]
      : unread;
    return { kind: 'skip', reason: 'not-opted-in', warnings };
  }

  if (!isPod(input)) {
    // isPod only says whether: the issues, for the denial, from zod's parser.
    const parsed = PodSchema.safeParse(input);
    if (!parsed.success) return { kind: 'deny', code: 400, message: `malformed pod: ${describeIssues(parsed.error)}` };
  }
  // The schema has no transforms, so the validated input has its shape; working on
  // the input (not zod's output) keeps field order and every unknown field.
  const pod = input as Pod;
  // Opted in by the namespace label: only pods with something to drain.
  if (byNamespace && !hasSessionCandidate(pod)) return { kind: 'skip', reason: 'no-tcp-port', warnings: [] };

  const marks = injectionMarks(pod);
  if (marks.length > 0 && annotations[INJECTED_ANNOTATION] === undefined) {
    // Parts without the annotation: copied from an injected pod, or half-made by hand. ws-drain
    // cannot tell what was injected, and the guard would deny the pod with a message about the webhook.
    return {
      kind: 'deny',
      code: 422,
      message:
        `this pod already has ${marks.join(' and ')} but no ${INJECTED_ANNOTATION} annotation, so ws-drain cannot tell ` +
        `what was injected; remove them and let ws-drain inject, or keep the ${INJECTED_ANNOTATION} and ${PLAN_ANNOTATION} ` +
        'annotations of the pod they were copied from',
    };
  }
  if (isAlreadyInjected(pod, marks)) return { kind: 'skip', reason: 'already-injected', warnings: [] };
  if (isWindowsPod(pod)) {
    return {
      kind: 'skip',
      reason: 'windows',
      warnings: [warning('Windows pod left unchanged: the drain helper runs on Linux only')],
    };
  }

  // The pod's own values over the namespace's defaults; a namespace value never causes a denial by itself.
  const defaults = namespaceDefaultsOf(ns, config);
  const merged = mergeNamespaceDefaults(annotations, ns, defaults);
  const nsWarnings = [...unread]; // then by push, not map: docs/performance.md
  for (const w of merged.warnings) nsWarnings.push(warning(w));
  // A denial that involves the namespace's values says so: the fix may be the namespace owner's.
  const deny = (errors: string[]): Decision => {
    const fromNamespace = Object.keys(merged.sources).filter((k) => merged.sources[k] === 'namespace');
    return {
      kind: 'deny',
      code: 422,
      message: boundedMessage(fromNamespace.length > 0 ? [...errors, `(defaults from namespace ${namespace}: ${fromNamespace.join(', ')})`] : errors),
    };
  };
  const request = parseAnnotations(byNamespace ? { ...merged.annotations, [ANNOTATION.enabled]: 'true' } : merged.annotations, config);
  if (!request.ok) return deny(request.errors);
  request.request.from = planSources(merged, byNamespace ? 'namespace' : 'pod');
  if (defaults.ignored.length > 0) request.request.namespaceIgnored = defaults.ignored.map((i) => i.key);

  const injected = injectPod(pod, request.request, config);
  if (!injected.ok) return deny(injected.errors);

  return {
    kind: 'mutate',
    plan: injected.plan,
    patch: injected.patch,
    pod: injected.pod,
    warnings: [...nsWarnings, ...injected.warnings],
  };
}

