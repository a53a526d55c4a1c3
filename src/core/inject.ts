// Plan + pod → mutated pod. Resolves target containers and ports against the
// spec, folds or wraps existing preStop hooks, and adds the helper volume and
// init container. The injected objects are plain data, defined once below.

import type { DrainRequest } from './annotations.js';
import { ANNOTATION, drainUrl } from './annotations.js';
import { INSTALL_COMMAND, isHelperCommand, prestopArgv, type PrestopArgs } from './helper-argv.js';
import { hookHeader, hookHost, hookPath } from './hook-url.js';
import { someNames } from './limits.js';
import { buildPlan, KUBERNETES_DEFAULT_GRACE_SECONDS, planAnnotation, requiredGraceSeconds, resolveGrace } from './plan.js';
import { platformLimits } from './platform-limits.js';
import type { PatchOperation } from './patch.js';
import type { Container, HttpGetAction, Pod, PodSpec } from './pod-schema.js';
import { assignRoles, SHORT_LIST, tcpPorts } from './roles.js';
import { recogniseDrainHook, signalTrap } from './servers.js';
import {
  HELPER_BINARY,
  INIT_CONTAINER_NAME,
  INJECTED_ANNOTATION,
  MOUNT_PATH,
  PLAN_ANNOTATION,
  VOLUME_NAME,
  type ContainerRole,
  type Plan,
  type WebhookConfig,
} from './types.js';

// The objects below depend only on the config, so each is made once (per
// helper image), frozen and shared by every pod it is injected into, and its
// JSON is made once with it: the answer writes that text instead of running
// JSON.stringify over them again, almost half of the patch's JSON
// (src/server/admission.ts patchJSON, docs/performance.md).

/** JSON.stringify of each fixed object, made with it. */
const FIXED_JSON = new WeakMap<object, string>();

function fixed<T extends object>(value: T): T {
  deepFreeze(value);
  FIXED_JSON.set(value, JSON.stringify(value));
  return value;
}

function deepFreeze(value: object): void {
  for (const v of Object.values(value)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  Object.freeze(value);
}

/**
 * JSON.stringify(value) when `value` is one of the fixed objects below or a
 * list of just one of them (appendItem's value for a pod that had no list);
 * undefined for anything else.
 */
export function fixedJSON(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value)) return FIXED_JSON.get(value);
  const item: unknown = value.length === 1 ? value[0] : undefined;
  const text = typeof item === 'object' && item !== null ? FIXED_JSON.get(item) : undefined;
  return text === undefined ? undefined : `[${text}]`;
}

const HELPER_VOLUME = fixed({ name: VOLUME_NAME, emptyDir: { sizeLimit: '16Mi' } });

/** The shared volume the init container copies the helper into. Frozen, shared by every pod. */
export function helperVolume(): Record<string, unknown> {
  return HELPER_VOLUME;
}

/** The last helper image's init container: a process serves one config. */
let lastInitContainer: { image: string; container: Record<string, unknown> } | undefined;

/**
 * Pod Security "restricted"-compliant, with requests and limits so ResourceQuota
 * namespaces admit it. Frozen, shared by every pod of the same helper image.
 */
export function installInitContainer(helperImage: string): Record<string, unknown> {
  if (lastInitContainer?.image === helperImage) return lastInitContainer.container;
  const container = fixed({
    name: INIT_CONTAINER_NAME,
    image: helperImage,
    imagePullPolicy: 'IfNotPresent',
    command: [...INSTALL_COMMAND],
    volumeMounts: [{ name: VOLUME_NAME, mountPath: MOUNT_PATH }],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
      readOnlyRootFilesystem: true,
    },
    resources: {
      requests: { cpu: '10m', memory: '16Mi' },
      limits: { cpu: '100m', memory: '32Mi' },
    },
  });
  lastInitContainer = { image: helperImage, container };
  return container;
}

const HELPER_MOUNT = fixed({ name: VOLUME_NAME, mountPath: MOUNT_PATH, readOnly: true });

/** The app containers only read the helper. Frozen, shared by every container and pod. */
export function helperMount(): { name: string; mountPath: string; readOnly: boolean } {
  return HELPER_MOUNT;
}

/** Kubernetes shows warnings to kubectl users: one short line each. */
export function warning(text: string): string {
  const line = `ws-drain: ${text}`;
  return line.length < 120 ? line : `${line.slice(0, 116)}...`;
}

/**
 * What in the spec says ws-drain already ran on this pod: our init container,
 * a preStop running the helper. Empty when none. Never wrap twice.
 */
export function injectionMarks(pod: Pod): string[] {
  const spec = pod.spec;
  const marks: string[] = [];
  if ((spec.initContainers ?? []).some((c) => c.name === INIT_CONTAINER_NAME)) marks.push(`an init container named ${INIT_CONTAINER_NAME}`);
  const helperHook = (c: Container): boolean => isHelperCommand(c.lifecycle?.preStop?.exec?.command);
  const hooked = spec.containers.find(helperHook) ?? spec.initContainers?.find(helperHook);
  if (hooked) marks.push(`a preStop running ${HELPER_BINARY} in container ${hooked.name}`);
  return marks;
}

/** True when the pod already went through ws-drain: its parts, or (sleep mode injects neither) both annotations. */
export function isAlreadyInjected(pod: Pod, marks: readonly string[] = injectionMarks(pod)): boolean {
  if (marks.length > 0) return true;
  const annotations = pod.metadata?.annotations ?? {};
  return annotations[INJECTED_ANNOTATION] !== undefined && annotations[PLAN_ANNOTATION] !== undefined;
}

/** Windows pods cannot run the Linux helper; they are skipped with a warning. */
export function isWindowsPod(pod: Pod): boolean {
  return pod.spec.os?.name === 'windows' || pod.spec.nodeSelector?.['kubernetes.io/os'] === 'windows';
}

export type InjectResult =
  | {
      ok: true;
      /** Shares every unchanged object with the input: treat both as read-only. */
      pod: Pod;
      plan: Plan;
      warnings: string[];
      /** RFC 6902 operations turning the input into `pod`. */
      patch: PatchOperation[];
    }
  | { ok: false; errors: string[] };

/** What a target container's existing preStop turns into. */
type ExistingHook =
  | { kind: 'none' }
  | { kind: 'sleep'; seconds: number }
  | { kind: 'exec'; argv: string[] }
  | { kind: 'http'; url: string; path: string; headers: string[] }
  | { kind: 'tcp' };


/**
 * Returns a new pod (the input is not changed) with the drain plan injected,
 * or every reason it cannot be. Callers have checked opt-in, exclusion,
 * idempotency and Windows before.
 */
export function injectPod(input: Pod, request: DrainRequest, config: WebhookConfig): InjectResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const spec = input.spec;
  const regular = spec.containers;

  findConflicts(spec, errors);
  const roles = assignRoles(spec, input.metadata?.annotations ?? {}, request, errors);
  // One entry per regular container, in spec order: read by index, not by name.
  const planContainers = withoutTargetsError(roles.containers, request, errors);

  // Bound the work before doing it: every target's argv carries its ports list.
  const injectedBytes = estimateInjectedBytes(planContainers);
  if (injectedBytes > MAX_INJECTED_BYTES) {
    errors.push(
      `the preStop hooks for ${planContainers.filter((c) => c.role !== 'none').length} containers would add about ${injectedBytes} bytes to the pod, over the ` +
        `${MAX_INJECTED_BYTES} ws-drain allows (docs/limits.md); list fewer ports in ${ANNOTATION.ports} or fewer containers in ${ANNOTATION.containers}`,
    );
    return { ok: false, errors };
  }

  // Existing preStop hooks of the containers that get ours.
  const hooks = new Map<string, ExistingHook>();
  // Index loops here and below, not forEach: no closure per review.
  for (let i = 0; i < regular.length; i++) {
    const c = regular[i]!;
    if (planContainers[i]?.role !== 'none') hooks.set(c.name, readHook(c, errors));
  }
  if (errors.length > 0) return { ok: false, errors };
  for (const w of roles.warnings) warnings.push(warning(w));

  let folded = 0; // the longest native sleep among the hooks replaced
  for (const h of hooks.values()) if (h.kind === 'sleep') folded = Math.max(folded, h.seconds);
  const d = request.prestopDelaySeconds + folded;
  const required = requiredGraceSeconds(d, request.sessionP95Seconds, request.cleanupSeconds, request.margin);
  const grace = resolveGrace(required, spec.terminationGracePeriodSeconds, request.enforce, config);
  if (grace.kind === 'deny') return { ok: false, errors: [grace.message] };
  if (request.mode === 'sleep' && grace.graceSeconds < d) {
    // The API server rejects a sleep hook longer than the grace period.
    return {
      ok: false,
      errors: [
        `terminationGracePeriodSeconds ${grace.graceSeconds} is shorter than the preStop sleep of ${d}s; ` +
          `raise it to at least ${required} or use ${ANNOTATION.enforce}: raise`,
      ],
    };
  }
  if (grace.warning) warnings.push(warning(grace.warning));
  const plan = buildPlan(request, folded, planContainers, grace.graceSeconds);
  if (roles.leftOut.length > 0) plan.portsLeftOut = roles.leftOut;
  // Grace the pod's node kind will not honour: in the plan and as warnings (platform-limits.ts).
  const limits = platformLimits(input, plan.graceSeconds);
  if (limits.length > 0) plan.platformLimits = limits.map((l) => ({ name: l.name, limitSeconds: l.limitSeconds }));
  for (const l of limits) warnings.push(warning(l.message));

  // Mutation, copy-on-write: only the objects on a changed path are copied (the
  // input is never changed, untouched subtrees are shared with it), and each
  // change is recorded as the JSON Patch operation that makes it. Diffing a
  // deep clone afterwards cost more than everything else in an admission.
  const patch: PatchOperation[] = [];
  const drainTarget = request.http
    ? pickDrainContainer(regular.filter((_, i) => planContainers[i]?.role === 'app'), request.http.port)
    : undefined;
  let needsHelper = false;
  const hooksAsTrigger: string[] = [];
  const containers = regular.slice();

  for (let index = 0; index < regular.length; index++) {
    const c = regular[index]!;
    const hook = hooks.get(c.name);
    if (hook === undefined) continue;
    const at = `/spec/containers/${index}`;
    const role = planContainers[index];
    const isProxy = role?.role === 'proxy';
    const ports = role?.ports ?? [];
    // A proxy waits for the app's sessions in either mode (in sleep mode they close after SIGTERM).
    const useHelper = request.mode === 'drain' || isProxy || hook.kind === 'exec' || hook.kind === 'http';
    const asTrigger = !isProxy && hookIsTrigger(c.name, hook, request, warnings);
    if (asTrigger) hooksAsTrigger.push(c.name);
    if (hook.kind === 'exec' && !asTrigger) warnings.push(warning(`${c.name}: exec preStop runs after the drain; its time counts only if cleanup covers it`));
    if (hook.kind === 'http' && !asTrigger) warnings.push(warning(`${c.name}: httpGet preStop runs after the drain; its time counts only if cleanup covers it`));
    if (request.signal && role?.role === 'app') {
      const trap = signalTrap(c, request.signal);
      if (trap) warnings.push(warning(trap));
    }
    if (hook.kind === 'tcp') warnings.push(warning(`${c.name}: tcpSocket preStop removed (kubelet ignores it)`));

    const next = shallowCopy(c);
    if (useHelper) {
      needsHelper = true;
      // Options set one by one, not spread from conditional literals: no temporary object per option and container.
      const args: PrestopArgs = {
        container: c.name,
        delaySeconds: d,
        budgetSeconds: request.mode === 'drain' || isProxy ? request.sessionP95Seconds : 0,
        ports,
      };
      if (isProxy) args.role = 'proxy';
      if (request.signal && !isProxy) args.signal = request.signal;
      if (request.http && c === drainTarget) {
        args.drainUrl = drainUrl(request.http);
        args.drainMethod = request.http.method;
      }
      if (hook.kind === 'http') {
        args.hookUrl = hook.url;
        args.hookHeaders = hook.headers;
      }
      if (hook.kind === 'exec') args.hookArgv = hook.argv;
      if (asTrigger) args.hookAt = 'drain';
      if (hook.kind === 'exec' || hook.kind === 'http') args.hookTimeoutSeconds = request.cleanupSeconds;
      const argv = prestopArgv(args);
      setPreStop(c, next, at, { exec: { command: argv } }, patch);
      next.volumeMounts = appendItem(c.volumeMounts, `${at}/volumeMounts`, helperMount(), patch);
    } else if (d > 0) {
      setPreStop(c, next, at, { sleep: { seconds: d } }, patch);
    } else {
      // Nothing to wait for: an empty hook would be rejected by the API server.
      removePreStop(c, next, at, patch);
    }
    containers[index] = next;
  }

  const out = shallowCopy(spec);
  out.containers = containers;
  if (needsHelper) {
    out.volumes = appendItem(spec.volumes, '/spec/volumes', helperVolume() as { name: string }, patch);
    out.initContainers = appendItem(spec.initContainers, '/spec/initContainers', installInitContainer(config.helperImage) as Container, patch);
  }
  // A missing value already means 30 to the API server: only write a change.
  if (grace.graceSeconds !== (spec.terminationGracePeriodSeconds ?? KUBERNETES_DEFAULT_GRACE_SECONDS)) {
    out.terminationGracePeriodSeconds = grace.graceSeconds;
    patch.push({ op: opFor(spec.terminationGracePeriodSeconds), path: '/spec/terminationGracePeriodSeconds', value: grace.graceSeconds });
  }
  if (out.hostNetwork === true) {
    warnings.push(warning('hostNetwork pod: connection counts include the node\'s own sockets on the watched ports'));
  }

  if (hooksAsTrigger.length > 0) plan.hooksAsTrigger = hooksAsTrigger;
  const written = { [INJECTED_ANNOTATION]: config.helperVersion, [PLAN_ANNOTATION]: planAnnotation(plan) };
  const annotationBytes = annotationsSize(input.metadata?.annotations, written);
  if (annotationBytes > MAX_ANNOTATION_BYTES) {
    return {
      ok: false,
      errors: [
        `with ws-drain's ${PLAN_ANNOTATION} the pod's annotations would take ${annotationBytes} bytes, over Kubernetes' limit of ` +
          `${MAX_ANNOTATION_BYTES}; shorten the pod's other annotations or list fewer ports or containers`,
      ],
    };
  }
  const pod = shallowCopy(input);
  pod.spec = out;
  pod.metadata = annotate(input.metadata, written, patch);
  return { ok: true, pod, plan, warnings, patch };
}

/** Kubernetes' limit on all of a pod's annotations together (keys and values). */
export const MAX_ANNOTATION_BYTES = 256 * 1024;

/** Upper bound on what ws-drain adds to one pod (docs/limits.md). */
export const MAX_INJECTED_BYTES = 512 * 1024;

/** Fixed part of one target's hook in the patch (argv without ports, mount, JSON). */
const PER_TARGET_BYTES = 512;

/** About how many bytes the hooks add: each target's (role not "none") ports list in its argv, plus a fixed part. */
function estimateInjectedBytes(containers: Plan['containers']): number {
  // Targets under ws-drain/ports share one list: measure each long list once.
  let measured: Map<number[], number> | undefined; // made for the first long list only
  let bytes = 0;
  for (const t of containers) {
    if (t.role === 'none') continue;
    const long = t.ports.length > SHORT_LIST;
    let size = long ? measured?.get(t.ports) : undefined;
    if (size === undefined) {
      size = 0;
      for (const p of t.ports) size += p < 10 ? 2 : p < 100 ? 3 : p < 1000 ? 4 : p < 10000 ? 5 : 6;
      if (long) (measured ??= new Map()).set(t.ports, size);
    }
    bytes += PER_TARGET_BYTES + t.name.length + size;
  }
  return bytes;
}

/** UTF-8 size of the annotations once `written` is set, counted as the API server does (keys + values). */
function annotationsSize(existing: Record<string, string> | null | undefined, written: Record<string, string>): number {
  let bytes = 0;
  if (existing) for (const k of Object.keys(existing)) if (!(k in written)) bytes += utf8Length(k) + utf8Length(existing[k]!);
  for (const k of Object.keys(written)) bytes += utf8Length(k) + utf8Length(written[k]!);
  return bytes;
}

const UTF8 = new TextEncoder();
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Bytes of `text` as UTF-8. Annotations are nearly always ASCII, whose length
 * is its byte count: encoding every one just to count it was a tenth of
 * decide()'s time (docs/performance.md).
 */
export function utf8Length(text: string): number {
  return NON_ASCII.test(text) ? UTF8.encode(text).length : text.length;
}

/** Something else already uses our volume name or mount path: deny rather than guess. */
function findConflicts(spec: PodSpec, errors: string[]): void {
  // Names are unique across all containers of a pod: ours would be a duplicate the API server rejects.
  if (spec.containers.some((c) => c.name === INIT_CONTAINER_NAME)) {
    errors.push(`container name "${INIT_CONTAINER_NAME}" is reserved for the init container ws-drain adds; rename that container`);
  }
  if ((spec.volumes ?? []).some((v) => v.name === VOLUME_NAME)) {
    errors.push(`the pod already has a volume named "${VOLUME_NAME}"; ws-drain needs that name for its helper`);
  }
  for (const c of spec.initContainers ?? []) mountConflict(c, errors);
  for (const c of spec.containers) mountConflict(c, errors);
}

function mountConflict(c: Container, errors: string[]): void {
  for (const m of c.volumeMounts ?? []) {
    if (m.mountPath.replace(/\/+$/, '') === MOUNT_PATH) {
      errors.push(`container ${c.name} already mounts something at ${MOUNT_PATH}; ws-drain needs that path for its helper`);
    }
  }
}

/**
 * The same as `{ ...o }` for JSON data (own enumerable keys, in order), but
 * V8 copies objects made by JSON.parse about ten times faster this way.
 */
function shallowCopy<T extends object>(o: T): T {
  return Object.assign({}, o);
}

/** RFC 6902 "add" on a present member replaces it too; "replace" says so and fails loudly if it went missing. */
function opFor(existing: unknown): 'add' | 'replace' {
  return existing === undefined ? 'add' : 'replace';
}

/** RFC 6901: `~` and `/` inside a key. */
function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A new array with `item` at the end (a new one-element array when there was none). */
function appendItem<T>(list: T[] | null | undefined, path: string, item: T, patch: PatchOperation[]): T[] {
  if (Array.isArray(list)) {
    patch.push({ op: 'add', path: `${path}/${list.length}`, value: item });
    return [...list, item];
  }
  patch.push({ op: opFor(list), path, value: [item] });
  return [item];
}

type PreStop = NonNullable<NonNullable<Container['lifecycle']>['preStop']>;

function setPreStop(c: Container, next: Container, at: string, preStop: PreStop, patch: PatchOperation[]): void {
  const lifecycle = c.lifecycle;
  if (lifecycle == null) {
    next.lifecycle = { preStop };
    patch.push({ op: opFor(lifecycle), path: `${at}/lifecycle`, value: next.lifecycle });
    return;
  }
  next.lifecycle = shallowCopy(lifecycle);
  next.lifecycle.preStop = preStop;
  patch.push({ op: opFor(lifecycle.preStop), path: `${at}/lifecycle/preStop`, value: preStop });
}

/** Drops preStop, and lifecycle with it when nothing else is left in it. */
function removePreStop(c: Container, next: Container, at: string, patch: PatchOperation[]): void {
  const lifecycle = c.lifecycle;
  if (lifecycle === undefined) {
    delete next.lifecycle;
    return;
  }
  const rest = lifecycle === null ? {} : shallowCopy(lifecycle);
  delete rest.preStop;
  if (Object.keys(rest).length === 0) {
    delete next.lifecycle;
    patch.push({ op: 'remove', path: `${at}/lifecycle` });
  } else {
    next.lifecycle = rest;
    if (lifecycle?.preStop !== undefined) patch.push({ op: 'remove', path: `${at}/lifecycle/preStop` });
  }
}

/** metadata with `written` set in its annotations, creating either when missing. */
function annotate(metadata: Pod['metadata'], written: Record<string, string>, patch: PatchOperation[]): NonNullable<Pod['metadata']> {
  if (metadata == null) {
    const created = { annotations: { ...written } };
    patch.push({ op: opFor(metadata), path: '/metadata', value: created });
    return created;
  }
  const annotations = metadata.annotations;
  if (annotations == null) {
    const created = { ...written };
    patch.push({ op: opFor(annotations), path: '/metadata/annotations', value: created });
    const copy = shallowCopy(metadata);
    copy.annotations = created;
    return copy;
  }
  for (const key of Object.keys(written)) {
    patch.push({ op: opFor(annotations[key]), path: `/metadata/annotations/${pointerToken(key)}`, value: written[key] });
  }
  const copy = shallowCopy(metadata);
  copy.annotations = Object.assign(shallowCopy(annotations), written);
  return copy;
}

function readHook(c: Container, errors: string[]): ExistingHook {
  const preStop = c.lifecycle?.preStop;
  if (!preStop) return { kind: 'none' };
  if (preStop.exec?.command && preStop.exec.command.length > 0) {
    // execve(2) takes C strings: an argument with a NUL byte can never be run, by kubelet or the helper.
    if (preStop.exec.command.some((a) => a.includes('\0'))) {
      errors.push(`container ${c.name}: preStop exec command has a NUL byte in an argument; it could never run, fix or remove it`);
      return { kind: 'none' };
    }
    return { kind: 'exec', argv: [...preStop.exec.command] };
  }
  if (preStop.httpGet) {
    const url = hookUrl(c, preStop.httpGet, errors);
    const headers: string[] = [];
    for (const h of preStop.httpGet.httpHeaders ?? []) {
      const header = hookHeader(h.name, h.value);
      if (header.ok) headers.push(header.value);
      else errors.push(`container ${c.name}: preStop httpGet ${header.error}; kubelet could never send it, fix or remove the hook`);
    }
    return url === undefined ? { kind: 'none' } : { kind: 'http', url, path: url.slice(url.indexOf('/', url.indexOf('//') + 2)), headers };
  }
  if (preStop.sleep) return { kind: 'sleep', seconds: preStop.sleep.seconds };
  if (preStop.tcpSocket) return { kind: 'tcp' };
  return { kind: 'none' };
}

function hookUrl(c: Container, get: HttpGetAction, errors: string[]): string | undefined {
  let port: number | undefined;
  if (typeof get.port === 'number') port = get.port;
  else if (/^\d+$/.test(get.port)) port = Number(get.port);
  else port = (c.ports ?? []).find((p) => p.name === get.port)?.containerPort;
  if (port === undefined || port < 1 || port > 65535) {
    errors.push(`container ${c.name}: preStop httpGet port "${String(get.port)}" is not a containerPort of ${c.name}`);
    return undefined;
  }
  const scheme = (get.scheme ?? 'HTTP').toLowerCase();
  // The helper stays a ~2.7 MB static binary by speaking plain HTTP only (TLS would
  // double it). Kept silently, an HTTPS hook would never run: deny instead.
  if (scheme !== 'http') {
    errors.push(
      `container ${c.name}: preStop httpGet scheme "${get.scheme ?? ''}" cannot run after the drain (the helper speaks plain HTTP); ` +
        'use scheme HTTP or an exec hook',
    );
    return undefined;
  }
  const host = hookHost(get.host && get.host !== '' ? get.host : '127.0.0.1');
  if (!host.ok) {
    errors.push(`container ${c.name}: preStop httpGet ${host.error}; the hook could never run, fix or remove it`);
    return undefined;
  }
  return `${scheme}://${host.value}:${port}${hookPath(get.path ?? '')}`;
}

/**
 * Whether an app's own exec/httpGet preStop starts the drain (run at D while
 * the helper watches) rather than running after it. Only in drain mode: in
 * sleep mode the hook runs at D either way.
 */
function hookIsTrigger(name: string, hook: ExistingHook, request: DrainRequest, warnings: string[]): boolean {
  if (request.mode !== 'drain' || (hook.kind !== 'exec' && hook.kind !== 'http')) return false;
  if (request.existingHook === 'drain') return true;
  if (request.existingHook === 'after') return false;
  const server = recogniseDrainHook(hook.kind === 'exec' ? { kind: 'exec', argv: hook.argv } : { kind: 'http', path: hook.path });
  if (server === undefined) return false;
  warnings.push(warning(`${name}: preStop is ${server}, run at D as the drain trigger (existing-hook: after runs it last)`));
  return true;
}

/**
 * Fills in the sleep-mode case (no app: every container sleeps D) and the
 * drain-mode errors (nothing to watch).
 */
function withoutTargetsError(roles: ContainerRole[], request: DrainRequest, errors: string[]): ContainerRole[] {
  const apps = roles.filter((c) => c.role === 'app');
  if (apps.length === 0) {
    if (request.mode === 'sleep') return roles.map((c) => (c.role === 'none' ? { ...c, role: 'app', why: 'sleep mode' } : c));
    if (errors.length === 0) {
      errors.push(
        `no container declares a TCP containerPort, so ws-drain does not know which connections to watch; ` +
          `set ${ANNOTATION.ports} (e.g. "8080") or declare a containerPort`,
      );
    }
    return roles;
  }
  if (request.mode === 'drain' && errors.length === 0) {
    for (const c of apps) {
      if (c.ports.length === 0) {
        errors.push(`container ${c.name} has no TCP containerPort to watch; set ${ANNOTATION.ports} or declare a containerPort in ${c.name}`);
      }
    }
  }
  return roles;
}

/** The drain call goes out once per pod: from the app that declares the port, else the first app. */
function pickDrainContainer(targets: Container[], port: number): Container | undefined {
  return targets.find((c) => tcpPorts(c).includes(port)) ?? targets[0];
}
