// The path in front of an opted-in workload: the Services that select its
// pods, the Ingresses and HTTPRoutes that send traffic to those Services, and
// the proxy timeouts that would cut a WebSocket session before the drain plan
// expects it to end. Also rollout settings that turn a long drain into lost
// capacity.
import { finding, type Finding, type ObjectRef } from './findings.js';
import type { ConfigMap, HTTPRoute, Ingress, Service, Workload } from './objects.js';
import { serviceSelects } from './selectors.js';
import type { Snapshot } from './snapshot.js';
import {
  ALB_DEFAULT_IDLE_TIMEOUT_SECONDS,
  backendConfigFor,
  GCLB_DEFAULT_BACKEND_TIMEOUT_SECONDS,
  INGRESS_NGINX_DEFAULTS,
  NGINX_INC_DEFAULT_TIMEOUT_SECONDS,
  parseAlbIdleTimeout,
  parseGatewayDuration,
  parseIngressNginxSeconds,
  parseNginxTime,
} from './timeouts.js';
import type { WorkloadView } from './workload-rules.js';

export const INGRESS_NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
export const NGINX_INC_CONTROLLER = 'nginx.org/ingress-controller';
export const ALB_CONTROLLER = 'ingress.k8s.aws/alb';
export const ALB_ATTRIBUTES = 'alb.ingress.kubernetes.io/load-balancer-attributes';
/** GKE's built-in Ingress classes (GKE creates no IngressClass objects for them). */
export const GKE_CLASSES: ReadonlySet<string> = new Set(['gce', 'gce-internal']);
const BACKEND_CONFIG_ANNOTATIONS = ['cloud.google.com/backend-config', 'beta.cloud.google.com/backend-config'];
const NGINX_ANNOTATION = 'nginx.ingress.kubernetes.io/';
const NGINX_INC_ANNOTATION = 'nginx.org/';

/** What routes traffic to one workload. */
export interface WorkloadPath {
  services: ObjectRef[];
  ingresses: ObjectRef[];
  httpRoutes: ObjectRef[];
}

/** Services and Ingresses by namespace, read once per run (a pass per workload would be quadratic). */
export interface PathIndex {
  snapshot: Snapshot;
  /** namespace → "key=value" of one selector entry → Services whose selector has it. */
  services: Map<string, Map<string, Service[]>>;
  ingresses: Map<string, Ingress[]>;
}

function byNamespace<T extends { metadata: { namespace?: string } }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const ns = i.metadata.namespace ?? '';
    const list = m.get(ns);
    if (list) list.push(i);
    else m.set(ns, [i]);
  }
  return m;
}

export function pathIndex(snapshot: Snapshot): PathIndex {
  const services = new Map<string, Map<string, Service[]>>();
  for (const [ns, list] of byNamespace(snapshot.services)) {
    const byEntry = new Map<string, Service[]>();
    for (const svc of list) {
      // Every selector entry must match, so any one of them is a sound key.
      const first = Object.entries(svc.spec.selector ?? {})[0];
      if (!first) continue; // selects nothing
      const key = `${first[0]}=${first[1]}`;
      const bucket = byEntry.get(key);
      if (bucket) bucket.push(svc);
      else byEntry.set(key, [svc]);
    }
    services.set(ns, byEntry);
  }
  return { snapshot, services, ingresses: byNamespace(snapshot.ingresses) };
}

export interface ResolvedPath {
  path: WorkloadPath;
  services: Service[];
  ingresses: Ingress[];
  routes: HTTPRoute[];
}

export function pathOf(index: PathIndex, w: WorkloadView): ResolvedPath {
  const ns = w.object.namespace;
  const byEntry = index.services.get(ns ?? '');
  const candidates = byEntry ? Object.entries(w.podLabels).flatMap(([k, v]) => byEntry.get(`${k}=${v}`) ?? []) : [];
  const services = [...new Set(candidates)].filter((s) => serviceSelects(s.spec.selector, w.podLabels));
  const names = new Set(services.map((s) => s.metadata.name));
  const ingresses = names.size === 0 ? [] : (index.ingresses.get(ns ?? '') ?? []).filter((i) => ingressBackends(i).some((b) => names.has(b)));
  const routes = names.size === 0 ? [] : index.snapshot.httpRoutes.filter((r) => (r.spec.rules ?? []).some((rule) => ruleRoutesTo(r, rule, ns, names)));
  const ref = (kind: string) => (o: { metadata: { name: string; namespace?: string } }): ObjectRef => ({ kind, namespace: o.metadata.namespace, name: o.metadata.name });
  return { path: { services: services.map(ref('Service')), ingresses: ingresses.map(ref('Ingress')), httpRoutes: routes.map(ref('HTTPRoute')) }, services, ingresses, routes };
}

type RouteRule = NonNullable<HTTPRoute['spec']['rules']>[number];

function ruleRoutesTo(route: HTTPRoute, rule: RouteRule, ns: string | undefined, services: ReadonlySet<string>): boolean {
  return (rule.backendRefs ?? []).some(
    (b) => (b.kind ?? 'Service') === 'Service' && (b.group ?? '') === '' && (b.namespace ?? route.metadata.namespace) === ns && services.has(b.name),
  );
}

type IngressBackend = NonNullable<NonNullable<Ingress['spec']['defaultBackend']>['service']>;

function ingressServiceBackends(i: Ingress): IngressBackend[] {
  const out: IngressBackend[] = [];
  if (i.spec.defaultBackend?.service) out.push(i.spec.defaultBackend.service);
  for (const r of i.spec.rules ?? []) for (const p of r.http?.paths ?? []) if (p.backend.service) out.push(p.backend.service);
  return out;
}

function ingressBackends(i: Ingress): string[] {
  const out: string[] = [];
  if (i.spec.defaultBackend?.service) out.push(i.spec.defaultBackend.service.name);
  for (const r of i.spec.rules ?? []) for (const p of r.http?.paths ?? []) if (p.backend.service) out.push(p.backend.service.name);
  return out;
}

/** The controller of an Ingress: its class (field, legacy annotation, or the default IngressClass) → spec.controller. */
export function ingressController(snapshot: Snapshot, i: Ingress): { className?: string; controller?: string } {
  const className = i.spec.ingressClassName ?? i.metadata.annotations?.['kubernetes.io/ingress.class'] ?? undefined;
  const cls = className
    ? snapshot.ingressClasses.find((c) => c.metadata.name === className)
    : snapshot.ingressClasses.find((c) => c.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true');
  const controller = cls?.spec?.controller ?? (className === 'nginx' ? INGRESS_NGINX_CONTROLLER : undefined);
  return { ...(className ?? cls ? { className: className ?? cls!.metadata.name } : {}), ...(controller ? { controller } : {}) };
}

/**
 * `--configmap=NS/NAME` of each ingress-nginx controller (Deployment or
 * DaemonSet running /nginx-ingress-controller), with its --ingress-class.
 * The fetch layer reads exactly these ConfigMaps.
 */
export function ingressNginxConfigMapRefs(workloads: readonly Workload[]): Array<{ namespace: string; name: string; ingressClass?: string }> {
  const out: Array<{ namespace: string; name: string; ingressClass?: string }> = [];
  for (const w of workloads) {
    for (const c of w.spec.template.spec.containers) {
      const args = [...(c.command ?? []), ...(c.args ?? [])];
      if (!args.some((a) => a.includes('nginx-ingress-controller'))) continue;
      const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
      const cm = flag('configmap');
      if (!cm) continue;
      const [namespace, name] = cm.includes('/') ? cm.split('/', 2) : [w.metadata.namespace ?? 'default', cm];
      const ingressClass = flag('ingress-class');
      out.push({ namespace: namespace!, name: name!, ...(ingressClass ? { ingressClass } : {}) });
    }
  }
  return out;
}

interface TimeoutValue {
  seconds: number;
  from: string;
}

/** `paths[i]` is pathOf(workloads[i]). */
export function pathRules(snapshot: Snapshot, workloads: readonly WorkloadView[], paths: readonly ResolvedPath[]): Finding[] {
  const out: Finding[] = [];
  const nginxRefs = ingressNginxConfigMapRefs([...snapshot.deployments, ...snapshot.daemonSets]);
  workloads.forEach((w, i) => {
    if (!w.plan || w.outOfScope) return;
    const s = w.plan.sessionP95Seconds;
    const grace = w.plan.graceSeconds;
    const who = `${w.object.kind} ${w.object.namespace}/${w.object.name}`;
    const { path, ingresses, routes, services } = paths[i]!;
    const serviceNames = new Set(path.services.map((r) => r.name));
    for (const ing of ingresses) {
      const ref: ObjectRef = { kind: 'Ingress', namespace: ing.metadata.namespace, name: ing.metadata.name };
      const { className, controller } = ingressController(snapshot, ing);
      if (controller === INGRESS_NGINX_CONTROLLER) {
        const cmRef = nginxRefs.find((r) => r.ingressClass === className) ?? nginxRefs[0];
        const cm = cmRef ? snapshot.configMaps.find((c) => c.metadata.namespace === cmRef.namespace && c.metadata.name === cmRef.name) : undefined;
        const cmName = cm ? `ConfigMap ${cm.metadata.namespace}/${cm.metadata.name}` : undefined;
        for (const [key, def] of [['proxy-read-timeout', INGRESS_NGINX_DEFAULTS.proxyReadTimeoutSeconds], ['proxy-send-timeout', INGRESS_NGINX_DEFAULTS.proxySendTimeoutSeconds]] as const) {
          const v = nginxTimeout(out, ref, ing, cm, cmName, `${NGINX_ANNOTATION}${key}`, key, def, parseIngressNginxSeconds, 'whole seconds, e.g. "3600"');
          if (v.seconds < s) {
            out.push(
              finding(
                'WSD301',
                ref,
                `ingress-nginx ${key} is ${v.seconds} s (${v.from}), shorter than the session p95 of ${who} (${s} s, grace ${grace} s): nginx closes a WebSocket that carries no frame for ${v.seconds} s, so longer sessions are cut unless the app pings more often`,
                `set the annotation ${NGINX_ANNOTATION}${key}: "${s}" (or more) on the Ingress`,
              ),
            );
          }
        }
        const shutdown = cm?.data?.['worker-shutdown-timeout'];
        let wst: TimeoutValue = { seconds: INGRESS_NGINX_DEFAULTS.workerShutdownTimeoutSeconds, from: cmRef ? `ingress-nginx default; ${cmName ?? `ConfigMap ${cmRef.namespace}/${cmRef.name}`} does not set it` : 'ingress-nginx default' };
        if (shutdown !== undefined) {
          const parsed = parseNginxTime(shutdown);
          if (parsed === undefined) unreadable(out, ref, `worker-shutdown-timeout ${JSON.stringify(shutdown)} in ${cmName}`, 'an nginx time such as "240s" or "10m"');
          else wst = { seconds: parsed, from: cmName! };
        }
        if (wst.seconds < s) {
          out.push(
            finding(
              'WSD302',
              ref,
              `ingress-nginx worker-shutdown-timeout is ${wst.seconds} s (${wst.from}), shorter than the session p95 of ${who} (${s} s): on every nginx reload (an Ingress, ConfigMap or certificate change) the old workers close WebSockets older than ${wst.seconds} s`,
              `set worker-shutdown-timeout: "${s}s" (or more) in the controller's ConfigMap`,
            ),
          );
        }
      } else if (controller === ALB_CONTROLLER || className === 'alb') {
        const raw = ing.metadata.annotations?.[ALB_ATTRIBUTES];
        const parsed = raw === undefined ? undefined : parseAlbIdleTimeout(raw);
        if (parsed === 'invalid') unreadable(out, ref, `annotation ${ALB_ATTRIBUTES}: ${JSON.stringify(raw)}`, 'key=value pairs such as "idle_timeout.timeout_seconds=3600" (1-4000)');
        const idle: TimeoutValue =
          typeof parsed === 'number' ? { seconds: parsed, from: `annotation ${ALB_ATTRIBUTES}` } : { seconds: ALB_DEFAULT_IDLE_TIMEOUT_SECONDS, from: 'ALB default' };
        if (idle.seconds < s) {
          out.push(
            finding('WSD301', ref, `AWS ALB idle timeout is ${idle.seconds} s (${idle.from}), shorter than the session p95 of ${who} (${s} s, grace ${grace} s): the ALB closes a WebSocket that carries no data for ${idle.seconds} s`, `set ${ALB_ATTRIBUTES}: idle_timeout.timeout_seconds=${Math.min(4000, Math.ceil(s))} (or ping more often than every ${idle.seconds} s)`),
          );
        }
      } else if (className !== undefined && GKE_CLASSES.has(className)) {
        for (const backend of ingressServiceBackends(ing)) {
          const svc = services.find((x) => x.metadata.name === backend.name);
          if (!svc) continue;
          const t = gkeBackendTimeout(out, snapshot, svc, backend);
          if (t.seconds < s) {
            out.push(
              finding(
                'WSD305',
                ref,
                `the GKE load balancer's backend timeout for Service ${svc.metadata.namespace}/${svc.metadata.name} is ${t.seconds} s (${t.from}); for WebSockets it is the longest a connection may stay open, shorter than the session p95 of ${who} (${s} s, grace ${grace} s)`,
                `attach a BackendConfig with spec.timeoutSec: ${Math.ceil(s)} (or more) to the Service (annotation cloud.google.com/backend-config)`,
              ),
            );
          }
        }
      } else if (controller === NGINX_INC_CONTROLLER) {
        for (const key of ['proxy-read-timeout', 'proxy-send-timeout'] as const) {
          const v = nginxTimeout(out, ref, ing, undefined, undefined, `${NGINX_INC_ANNOTATION}${key}`, key, NGINX_INC_DEFAULT_TIMEOUT_SECONDS, parseNginxTime, 'an nginx time such as "3600s"');
          if (v.seconds < s) {
            out.push(
              finding('WSD301', ref, `NGINX Ingress Controller ${key} is ${v.seconds} s (${v.from}), shorter than the session p95 of ${who} (${s} s, grace ${grace} s): idle WebSockets are closed after ${v.seconds} s`, `set the annotation ${NGINX_INC_ANNOTATION}${key}: "${s}s" (or more) on the Ingress`),
            );
          }
        }
      }
    }
    for (const route of routes) {
      const ref: ObjectRef = { kind: 'HTTPRoute', namespace: route.metadata.namespace, name: route.metadata.name };
      (route.spec.rules ?? []).forEach((rule, index) => {
        if (!ruleRoutesTo(route, rule, w.object.namespace, serviceNames)) return;
        for (const key of ['request', 'backendRequest'] as const) {
          const raw = rule.timeouts?.[key];
          if (raw === undefined || raw === null) continue;
          const seconds = parseGatewayDuration(raw);
          if (seconds === undefined) {
            unreadable(out, ref, `rules[${index}].timeouts.${key} ${JSON.stringify(raw)}`, 'a Gateway API duration such as "1h" or "300s"');
            continue;
          }
          // "0s" disables the timeout.
          if (seconds > 0 && seconds < s) {
            out.push(
              finding(
                'WSD303',
                ref,
                `rules[${index}].timeouts.${key} is ${raw} (${seconds} s), shorter than the session p95 of ${who} (${s} s, grace ${grace} s): the gateway ends a request, WebSocket upgrades included on most implementations, after ${seconds} s`,
                `set rules[${index}].timeouts.${key} to "${s}s" or more, or "0s" for no timeout`,
              ),
            );
          }
        }
      });
    }
    out.push(...rolloutRules(w));
  });
  return out;
}

function nginxTimeout(
  out: Finding[],
  ref: ObjectRef,
  ing: Ingress,
  cm: ConfigMap | undefined,
  cmName: string | undefined,
  annotation: string,
  key: string,
  fallback: number,
  parse: (v: string) => number | undefined,
  form: string,
): TimeoutValue {
  const a = ing.metadata.annotations?.[annotation];
  if (a !== undefined) {
    const v = parse(a);
    if (v !== undefined) return { seconds: v, from: `annotation ${annotation}` };
    unreadable(out, ref, `annotation ${annotation}: ${JSON.stringify(a)}`, form);
  }
  const c = cm?.data?.[key];
  if (c !== undefined) {
    const v = parse(c);
    if (v !== undefined) return { seconds: v, from: cmName! };
    unreadable(out, ref, `${key} ${JSON.stringify(c)} in ${cmName}`, form);
  }
  return { seconds: fallback, from: 'controller default' };
}

function gkeBackendTimeout(out: Finding[], snapshot: Snapshot, svc: Service, backend: IngressBackend): TimeoutValue {
  const fallback = { seconds: GCLB_DEFAULT_BACKEND_TIMEOUT_SECONDS, from: 'GCP default, no BackendConfig' };
  const key = BACKEND_CONFIG_ANNOTATIONS.find((k) => svc.metadata.annotations?.[k] !== undefined);
  if (!key) return fallback;
  const svcRef: ObjectRef = { kind: 'Service', namespace: svc.metadata.namespace, name: svc.metadata.name };
  const svcPort = (svc.spec.ports ?? []).find((p) => (backend.port?.number != null ? p.port === backend.port.number : p.name === backend.port?.name));
  const name = backendConfigFor(svc.metadata.annotations![key]!, svcPort ?? { port: backend.port?.number ?? 0, name: backend.port?.name });
  if (name === 'invalid') {
    unreadable(out, svcRef, `annotation ${key}`, 'JSON such as {"default": "my-backendconfig"} or {"ports": {"80": "my-backendconfig"}}');
    return fallback;
  }
  if (name === undefined) return fallback;
  const bc = snapshot.backendConfigs.find((b) => b.metadata.namespace === svc.metadata.namespace && b.metadata.name === name);
  const timeout = bc?.spec?.timeoutSec;
  if (typeof timeout === 'number') return { seconds: timeout, from: `BackendConfig ${svc.metadata.namespace}/${name}` };
  return { seconds: GCLB_DEFAULT_BACKEND_TIMEOUT_SECONDS, from: bc ? `GCP default, BackendConfig ${name} sets no timeoutSec` : `GCP default, BackendConfig ${name} not found` };
}

function unreadable(out: Finding[], ref: ObjectRef, what: string, form: string): void {
  out.push(finding('WSD304', ref, `${what} is not a value the controller accepts, so it falls back to its default`, `write it as ${form}`));
}

/** A drain longer than this makes rollout settings matter. */
export const LONG_DRAIN_SECONDS = 60;

function rolloutRules(w: WorkloadView): Finding[] {
  if (!w.plan) return [];
  const drain = w.plan.prestopDelaySeconds + w.plan.sessionP95Seconds;
  if (drain < LONG_DRAIN_SECONDS) return [];
  if (w.object.kind === 'StatefulSet') return statefulSetRollout(w, drain);
  if (w.object.kind !== 'Deployment') return [];
  const strategy = (w.source as Workload).spec.strategy;
  if (strategy?.type === 'Recreate') {
    return [
      finding('WSD402', w.object, `strategy Recreate with a ${drain} s drain: every pod drains at once and new pods start only when all are gone, so nothing serves for up to ${w.plan.graceSeconds} s`, 'use strategy RollingUpdate (with maxSurge ≥ 1)'),
    ];
  }
  const surge = strategy?.rollingUpdate?.maxSurge;
  if (surge === 0 || surge === '0' || surge === '0%') {
    const unavailable = strategy?.rollingUpdate?.maxUnavailable ?? '25%';
    return [
      finding(
        'WSD401',
        w.object,
        `maxSurge: 0 with a ${drain} s drain: a draining pod keeps its CPU/memory requests for up to ${w.plan.graceSeconds} s; where there is no room for an extra pod (the usual reason for maxSurge: 0) its replacement stays Pending that long, so the Deployment runs maxUnavailable (${unavailable}) short through every step of the rollout`,
        'set maxSurge to 1 or more (e.g. 25%) and leave room for it, so new pods start while old ones drain',
      ),
    ];
  }
  return [];
}

/** A StatefulSet replaces one pod at a time and recreates it only once the old one is gone. */
function statefulSetRollout(w: WorkloadView, drain: number): Finding[] {
  const spec = (w.source as Workload).spec as Workload['spec'] & { updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } } };
  const replicas = spec.replicas ?? 1;
  if (replicas < 2 || spec.updateStrategy?.type === 'OnDelete' || spec.updateStrategy?.rollingUpdate?.maxUnavailable !== undefined) return [];
  const total = replicas * drain;
  return [
    finding(
      'WSD403',
      w.object,
      `a rolling update replaces its ${replicas} pods one at a time and recreates each only after it has terminated: with a drain of up to ${drain} s per pod, a rollout can take ${total} s (${Math.round(total / 60)} min)`,
      'expected for long sessions; a drain trigger (ws-drain/drain-signal or drain-http) that makes clients reconnect ends each drain early, and podManagementPolicy does not apply to updates',
    ),
  ];
}
