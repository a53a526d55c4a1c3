// Who does what in a pod during a drain, decided from the spec and annotations:
//  - app: serves the watched sessions; gets the drain trigger (signal, HTTP,
//    a hook that is the drain) and watches its session ports;
//  - proxy: carries traffic for the app (a mesh proxy, a TLS/HTTP proxy in
//    front of it, a database proxy it needs): waits until the app's sessions
//    are gone, is never signalled;
//  - none: left alone.
// And which of an app's ports are sessions: metrics, admin, debug, health and
// probe-only ports keep idle keep-alive connections (a Prometheus scrape every
// 15 s) and would hold every drain for the whole budget. The rules are a short,
// fixed list, written in docs/drain-behaviour.md; the outcome
// is shown in ws-drain/plan and in an admission warning.

import type { DrainRequest, PortRef } from './annotations.js';
import { ANNOTATION } from './annotations.js';
import { someNames } from './limits.js';
import type { Container, ContainerPort, Probe, PodSpec } from './pod-schema.js';
import type { ContainerRole, LeftOutPort } from './types.js';

/** Prometheus' scrape annotation: the port it names is a metrics port. */
export const PROMETHEUS_PORT_ANNOTATION = 'prometheus.io/port';

/** Port-name words (split on "-") that mark a port that is not a session port. */
export const NON_SESSION_PORT_WORDS: readonly string[] = [
  'metrics', 'metric', 'prom', 'prometheus', 'exporter', 'telemetry', 'stats', 'monitoring',
  'admin', 'management', 'mgmt', 'monitor', 'debug', 'pprof',
  'health', 'healthz', 'healthcheck', 'readyz', 'livez', 'probe', 'probes',
  // peer links between replicas (NATS routes, memberlist gossip): idle, never "drain"
  'cluster', 'routes', 'gossip', 'memberlist',
];

const NON_SESSION_WORDS: ReadonlySet<string> = new Set(NON_SESSION_PORT_WORDS);

/** Well-known sidecar/mesh ports: Istio (150xx), Linkerd (41xx), Envoy's default admin. */
export const MESH_PORTS: ReadonlyMap<number, string> = new Map([
  [15000, 'Istio Envoy admin'], [15001, 'Istio outbound'], [15004, 'Istio debug'], [15006, 'Istio inbound'],
  [15008, 'Istio HBONE'], [15009, 'Istio HBONE'], [15020, 'Istio merged metrics'], [15021, 'Istio health'],
  [15053, 'Istio DNS'], [15090, 'Istio Envoy metrics'],
  [4140, 'Linkerd outbound'], [4143, 'Linkerd inbound'], [4190, 'Linkerd control'], [4191, 'Linkerd admin'],
  [9901, 'Envoy admin'],
]);

// Mesh proxies, by container name or image. Classic (non-native) injection
// adds them as regular containers; native sidecars are init containers and
// never targets anyway.
export const MESH_PROXY_NAMES: ReadonlySet<string> = new Set(['istio-proxy', 'linkerd-proxy', 'kuma-sidecar', 'consul-dataplane', 'envoy-sidecar', 'consul-connect-envoy-sidecar']);
const MESH_PROXY_IMAGES = /(^|\/)(proxyv2|proxy_debug|proxy_init|linkerd2?-proxy|kuma-dp|consul-dataplane)$|(^|\/)linkerd\/proxy$/;

// Proxies in front of (or beside) the app: TLS terminators, reverse proxies,
// auth proxies, database proxies. A proxy only when another container is the app.
const FRONT_PROXY_IMAGES = /^(nginx|nginx-unprivileged|openresty|envoy|envoy-distroless|haproxy|traefik|caddy|ghostunnel|stunnel|oauth2-proxy|kube-rbac-proxy|modsecurity-crs|gce-proxy|cloud-sql-proxy|cloudsql-proxy)$/;
const FRONT_PROXY_NAMES = /^(nginx|envoy|haproxy|traefik|caddy|ghostunnel|stunnel|tls|ssl|proxy)$|-proxy$|^(tls|ssl)-/;

/** Image repository without tag or digest, lower case: `cr.l5d.io/linkerd/proxy:stable` → `cr.l5d.io/linkerd/proxy`. */
function imageRepo(image: string | undefined): string {
  if (!image) return '';
  const at = image.indexOf('@');
  const ref = at < 0 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return (colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref).toLowerCase();
}

/** The last path segment of an image reference, without tag or digest: `docker.io/library/nginx:1.27` → `nginx`. */
export function imageName(image: string | undefined): string {
  return lastSegment(imageRepo(image));
}

function lastSegment(repo: string): string {
  const last = repo.slice(repo.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon < 0 ? last : last.slice(0, colon);
}

export function isMeshProxy(c: Container): boolean {
  return see(c).mesh;
}

/** By name only: what the guard policy's CEL can mirror (namespace opt-in, namespace-defaults.ts). */
export function isMeshProxyName(name: string): boolean {
  return MESH_PROXY_NAMES.has(name);
}

export function isFrontProxy(c: Container): boolean {
  return see(c).front;
}

const isTcp = (p: ContainerPort): boolean => (p.protocol ?? 'TCP') === 'TCP';
export function tcpPorts(c: Container): number[] {
  const out: number[] = [];
  const seen = distinct(c.ports?.length ?? 0);
  for (const p of c.ports ?? []) if (isTcp(p) && seen(p.containerPort)) out.push(p.containerPort);
  return out;
}

/**
 * A first-time test for a container's port numbers: a scan for the usual
 * handful, a Set beyond (a hostile pod may declare thousands). A Set per
 * container was a tenth of an admission of 5,000 containers, in allocation.
 */
function distinct(count: number): (port: number) => boolean {
  if (count <= 1) return FIRST_OF_ONE;
  if (count <= 16) {
    const seen: number[] = [];
    return (port) => {
      if (seen.includes(port)) return false;
      seen.push(port);
      return true;
    };
  }
  const seen = new Set<number>();
  return (port) => {
    if (seen.has(port)) return false;
    seen.add(port);
    return true;
  };
}

const FIRST_OF_ONE = (): boolean => true;

/**
 * What the rules read of one container, worked out once: they ask about each
 * container several times, and on a pod with thousands of containers every
 * repeated regex or list copy shows.
 */
interface Seen {
  c: Container;
  mesh: boolean;
  front: boolean;
  tcp: number[];
  /** Set once decided; undecided containers end as role "none". */
  role?: ContainerRole;
}

function see(c: Container): Seen {
  const repo = imageRepo(c.image);
  return {
    c,
    mesh: isMeshProxyName(c.name) || MESH_PROXY_IMAGES.test(repo),
    front: FRONT_PROXY_IMAGES.test(lastSegment(repo)) || FRONT_PROXY_NAMES.test(c.name),
    tcp: tcpPorts(c),
  };
}

/** The ports a container's probes point at (numbers, names resolved against its own ports). */
function probePorts(c: Container): Set<number> {
  const out = new Set<number>();
  addProbePorts(c, c.livenessProbe, out);
  addProbePorts(c, c.readinessProbe, out);
  addProbePorts(c, c.startupProbe, out);
  return out;
}

function addProbePorts(c: Container, probe: Probe | null | undefined, out: Set<number>): void {
  addProbePort(c, probe?.httpGet?.port, out);
  addProbePort(c, probe?.tcpSocket?.port, out);
  addProbePort(c, probe?.grpc?.port, out);
}

function addProbePort(c: Container, ref: number | string | undefined, out: Set<number>): void {
  if (ref === undefined) return;
  if (typeof ref === 'number') out.add(ref);
  else if (/^\d+$/.test(ref)) out.add(Number(ref));
  else {
    const p = (c.ports ?? []).find((x) => x.name === ref);
    if (p) out.add(p.containerPort);
  }
}

/**
 * Watched ports named gRPC (a word "grpc") when the container also serves
 * other session ports: often a backend API (Centrifugo's grpc_api) whose
 * callers hold one channel open for good. Still sessions by default (streams
 * are), but worth a warning.
 */
function grpcBesideOtherSessions(c: Container, watched: readonly number[]): number[] {
  if (watched.length < 2) return [];
  const watchedSet = new Set(watched);
  const grpc = new Set<number>();
  for (const p of c.ports ?? []) {
    if (isTcp(p) && watchedSet.has(p.containerPort) && (p.name ?? '').split('-').includes('grpc')) grpc.add(p.containerPort);
  }
  return grpc.size > 0 && grpc.size < watchedSet.size ? [...grpc] : [];
}

/** Why a port is not a session port, or undefined when it is one. Probe ports are decided per container (see sessionPorts). */
export function nonSessionReason(port: ContainerPort, prometheusPort: number | undefined): string | undefined {
  if (prometheusPort !== undefined && port.containerPort === prometheusPort) return `${PROMETHEUS_PORT_ANNOTATION}`;
  if (port.name && port.name.split('-').some((w) => NON_SESSION_WORDS.has(w))) return `name ${port.name}`;
  const mesh = MESH_PORTS.get(port.containerPort);
  if (mesh !== undefined) return mesh;
  return undefined;
}

/**
 * Splits a container's TCP ports into session ports and the rest. A port that
 * only probes point at is left out when the container has another candidate
 * port that no probe uses (the dedicated health-port pattern).
 */
export function sessionPorts(c: Container, prometheusPort: number | undefined): { ports: number[]; leftOut: LeftOutPort[] } {
  const leftOut: LeftOutPort[] = [];
  const candidates: number[] = [];
  const first = distinct(c.ports?.length ?? 0);
  for (const p of c.ports ?? []) {
    if (!isTcp(p) || !first(p.containerPort)) continue;
    const why = nonSessionReason(p, prometheusPort);
    if (why === undefined) candidates.push(p.containerPort);
    else leftOut.push({ container: c.name, port: p.containerPort, why });
  }
  if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) return { ports: candidates, leftOut };
  const probed = probePorts(c);
  const unprobed = candidates.filter((p) => !probed.has(p));
  if (unprobed.length === 0) return { ports: candidates, leftOut };
  for (const p of candidates) if (probed.has(p)) leftOut.push({ container: c.name, port: p, why: 'probe port' });
  return { ports: unprobed, leftOut };
}

function readPrometheusPort(annotations: Readonly<Record<string, string>>): number | undefined {
  const v = annotations[PROMETHEUS_PORT_ANNOTATION]?.trim();
  if (v === undefined || !/^\d{1,5}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export interface RoleAssignment {
  /** Every regular container, in spec order. */
  containers: ContainerRole[];
  /** Ports of app containers that are not watched, and why. Empty with ws-drain/ports. */
  leftOut: LeftOutPort[];
  /** Short admission warnings. */
  warnings: string[];
}

/**
 * Assigns every regular container its role and the ports it watches, or adds
 * to `errors` why it cannot. ws-drain/containers names the apps outright (even
 * a proxy: that is asking for exactly it); ws-drain/proxies names proxies the
 * fixed lists do not know (a TLS-terminating nginx built in-house); ws-drain/ports
 * fixes the ports and makes the apps those that declare one of them.
 */
export function assignRoles(
  spec: PodSpec,
  annotations: Readonly<Record<string, string>>,
  request: DrainRequest,
  errors: string[],
): RoleAssignment {
  const regular = spec.containers;
  // The usual paths' lists are built by push, not map: V8's optimised map makes holey arrays where
  // unoptimised code makes packed ones, and their readers deoptimised at each change (docs/performance.md).
  const seen: Seen[] = [];
  for (const c of regular) seen.push(see(c));
  const warnings: string[] = [];
  const leftOut: LeftOutPort[] = [];
  const prometheusPort = readPrometheusPort(annotations);
  const assign = (s: Seen, role: ContainerRole['role'], why: string, ports: number[]): void => {
    s.role = { name: s.c.name, role, ports, why };
  };

  const annotated = request.ports
    ? resolvePorts(request.ports, [...regular, ...(spec.initContainers ?? [])], errors)
    : undefined;
  const marked = markedProxies(spec, request, errors);
  // Recognised or named proxies are never picked as apps by the port rules.
  const proxyLike = (s: Seen): boolean => s.mesh || marked.has(s.c.name);

  if (request.containers) {
    // Maps, not a scan per name; unknown names reported once, a few named: linear in the pod's size.
    const byName = new Map(seen.map((s) => [s.c.name, s]));
    const initNames = new Set((spec.initContainers ?? []).map((c) => c.name));
    const inInits: string[] = [];
    const unknown: string[] = [];
    for (const name of request.containers) {
      const s = byName.get(name);
      if (s === undefined) {
        if (initNames.has(name)) inInits.push(name);
        else unknown.push(name);
      } else if (annotated) {
        assign(s, 'app', ANNOTATION.containers, annotated);
      } else {
        const own = sessionPorts(s.c, prometheusPort);
        // Named explicitly but every port looks like metrics: watch them all rather than nothing.
        if (own.ports.length === 0 && s.tcp.length > 0) {
          assign(s, 'app', ANNOTATION.containers, s.tcp);
        } else {
          leftOut.push(...own.leftOut);
          assign(s, 'app', ANNOTATION.containers, own.ports);
        }
      }
    }
    const regularNames: string[] = [];
    for (const c of regular) regularNames.push(c.name);
    const names = someNames(regularNames, { quote: false });
    if (inInits.length > 0) {
      errors.push(`${ANNOTATION.containers}: ${someNames(inInits)} ${inInits.length === 1 ? 'is an init container' : 'are init containers'}; name regular containers only (${names})`);
    }
    if (unknown.length > 0) {
      errors.push(`${ANNOTATION.containers}: ${someNames(unknown)} ${unknown.length === 1 ? 'is not a container' : 'are not containers'} of this pod; its containers are ${names}`);
    }
  } else if (annotated) {
    const nonMesh = seen.filter((s) => !proxyLike(s));
    const annotatedSet = new Set(annotated);
    let apps = nonMesh.filter((s) => s.tcp.some((p) => annotatedSet.has(p)));
    let why = `serves ${ANNOTATION.ports}`;
    if (apps.length === 0) {
      // containerPorts are optional: nobody declares it, so any plain container may serve it.
      apps = nonMesh.filter((s) => !s.front);
      if (apps.length === 0) apps = nonMesh;
      why = `may serve ${ANNOTATION.ports} (no container declares it)`;
      if (apps.length > 1) {
        // warning() keeps the first 120 characters: 64 of each list always fill them.
        warnings.push(`no container declares port ${annotated.slice(0, 64).join(',')}: ${apps.slice(0, 64).map((s) => s.c.name).join(', ')} watch it; only the one owning the listener is signalled`);
      }
    }
    for (const s of apps) assign(s, 'app', why, annotated);
  } else {
    const candidates = seen.filter((s) => !proxyLike(s) && s.tcp.length > 0);
    const all: Array<{ s: Seen; own: ReturnType<typeof sessionPorts> }> = [];
    for (const s of candidates) all.push({ s, own: sessionPorts(s.c, prometheusPort) });
    // The apps are the plain containers with session ports; a front proxy only
    // when no plain one has any (an nginx gateway beside its metrics exporter
    // is the app, the exporter is not).
    const plain = all.filter((f) => !f.s.front);
    const plainServing = plain.some((f) => f.own.ports.length > 0);
    const servingFronts = all.filter((f) => f.s.front && f.own.ports.length > 0);
    const found = plainServing || servingFronts.length === 0 ? (plain.length > 0 ? plain : all) : [...plain, ...servingFronts];
    if (found.some((f) => f.own.ports.length > 0)) {
      for (const { s, own } of found) {
        leftOut.push(...own.leftOut);
        if (own.ports.length > 0) assign(s, 'app', 'serves session ports', own.ports);
        else assign(s, 'none', 'only metrics/admin/probe ports', []);
        const grpc = grpcBesideOtherSessions(s.c, own.ports);
        // Short: admission warnings are cut at 120 characters.
        if (grpc.length > 0) warnings.push(`${s.c.name}: gRPC ${grpc.slice(0, 8).join(',')} watched as sessions; idle channels hold the drain (unary? set ${ANNOTATION.ports})`);
      }
    } else {
      // No port looks like a session port: watch them all rather than nothing, and say so.
      for (const { s } of found) assign(s, 'app', 'serves TCP ports', s.tcp);
      if (found.length > 0) {
        const all = found.slice(0, 64).flatMap((f) => f.s.tcp);
        warnings.push(`every port looks like metrics/admin/probe (${all.join(',')}): all are watched; idle scrapes can hold the drain, set ${ANNOTATION.ports}`);
      }
    }
  }

  // Proxies: recognised mesh and front proxies that are not apps, once there is an app to wait for.
  const apps = seen.filter((s) => s.role?.role === 'app');
  if (apps.length === 0 && marked.size > 0 && request.mode === 'drain') {
    errors.push(
      `${ANNOTATION.proxies} names every container that could serve the sessions; a proxy waits for an app's sessions, ` +
        `so name the app in ${ANNOTATION.containers} or set ${ANNOTATION.ports} to a port it declares`,
    );
  }
  if (apps.length > 0) {
    const appPortLists: number[][] = [];
    const appNames: string[] = [];
    for (const s of apps) {
      appPortLists.push(s.role?.ports ?? []);
      appNames.push(s.c.name);
    }
    const appPorts = unionOfPorts(appPortLists);
    // One text for every proxy, naming a few apps: each proxy's plan entry carries it.
    const beside = `proxy beside ${someNames(appNames, { quote: false, max: 3 })}`;
    const guessed: string[] = [];
    for (const s of seen) {
      if (s.role !== undefined) continue;
      if (marked.has(s.c.name)) assign(s, 'proxy', ANNOTATION.proxies, appPorts);
      else if (s.mesh) assign(s, 'proxy', 'mesh proxy', appPorts);
      else if (s.front) {
        assign(s, 'proxy', beside, appPorts);
        guessed.push(s.c.name);
      }
    }
    // A front proxy is recognised by image or name: a judgement call, so said at admission too.
    if (guessed.length > 0) {
      warnings.push(`${someNames(guessed, { quote: false, max: 3 })}: taken for a proxy (waits, never signalled); ${ANNOTATION.containers} makes it the app`);
    }
  }

  const containers: ContainerRole[] = [];
  for (const s of seen) containers.push(s.role ?? { name: s.c.name, role: 'none', ports: [], why: 'no session port' });
  if (leftOut.length > 0) {
    const some: string[] = [];
    for (let i = 0; i < Math.min(leftOut.length, 64); i++) some.push(`${leftOut[i]!.port} (${leftOut[i]!.why})`);
    warnings.push(`not watched as sessions: ${some.join(', ')}; ${ANNOTATION.ports} overrides`);
  }
  return { containers, leftOut, warnings };
}

/**
 * The containers ws-drain/proxies names, checked against the pod: regular
 * containers only (a native sidecar already outlives the app), none also named
 * an app in ws-drain/containers. Sets, not scans: linear in the pod's size.
 */
function markedProxies(spec: PodSpec, request: DrainRequest, errors: string[]): ReadonlySet<string> {
  const names = request.proxies ?? [];
  if (names.length === 0) return NO_PROXIES;
  const regular = new Set(spec.containers.map((c) => c.name));
  const inits = new Set((spec.initContainers ?? []).map((c) => c.name));
  const asApps = new Set(request.containers ?? []);
  const unknown = names.filter((n) => !regular.has(n) && !inits.has(n));
  const inInits = names.filter((n) => inits.has(n) && !regular.has(n));
  const both = names.filter((n) => asApps.has(n));
  const list = someNames([...regular], { quote: false });
  if (unknown.length > 0) {
    errors.push(`${ANNOTATION.proxies}: ${someNames(unknown)} ${unknown.length === 1 ? 'is not a container' : 'are not containers'} of this pod; its containers are ${list}`);
  }
  if (inInits.length > 0) {
    errors.push(
      `${ANNOTATION.proxies}: ${someNames(inInits)} ${inInits.length === 1 ? 'is an init container' : 'are init containers'}; ` +
        `a native sidecar already stays up until the app has stopped, name regular containers only (${list})`,
    );
  }
  if (both.length > 0) {
    errors.push(
      `${someNames(both)} ${both.length === 1 ? 'is' : 'are'} named in both ${ANNOTATION.containers} and ${ANNOTATION.proxies}; ` +
        'a container is either an app (gets the drain trigger) or a proxy (never signalled), remove it from one',
    );
  }
  return new Set(names.filter((n) => regular.has(n) && !asApps.has(n)));
}

const NO_PROXIES: ReadonlySet<string> = new Set();

/** ws-drain/ports entries as numbers; names resolve to one TCP containerPort across the pod. */
export function resolvePorts(refs: PortRef[], containers: Container[], errors: string[]): number[] {
  // One pass over the pod's ports, so a long list of names costs no more than one.
  const byName = new Map<string, Set<number>>();
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (!p.name || !isTcp(p)) continue;
      const set = byName.get(p.name) ?? new Set<number>();
      set.add(p.containerPort);
      byName.set(p.name, set);
    }
  }
  const out: number[] = [];
  const unknown: string[] = [];
  for (const ref of refs) {
    if (typeof ref === 'number') {
      out.push(ref);
      continue;
    }
    const numbers = byName.get(ref);
    if (numbers?.size === 1) out.push([...numbers][0] as number);
    else if (numbers === undefined) unknown.push(ref);
    else {
      errors.push(`${ANNOTATION.ports}: "${ref}" names different ports (${[...numbers].join(', ')}) in different containers; use numbers`);
    }
  }
  // One message for all unknown names, a few of each named: 8,000 of them must not make 8,000 messages.
  if (unknown.length > 0) {
    errors.push(
      `${ANNOTATION.ports}: ${someNames(unknown)} ${unknown.length === 1 ? 'is not a TCP containerPort name' : 'are not TCP containerPort names'} in this pod; ` +
        (byName.size > 0 ? `named ports are ${someNames([...byName.keys()], { quote: false })}` : 'no containerPort has a name, use numbers'),
    );
  }
  return [...new Set(out)];
}

/**
 * The union of ports lists, each long list read once: apps under
 * ws-drain/ports all share one list, and flattening 700 copies of 65,535 ports
 * cost seconds. Short lists (a container's own ports) are simply added.
 */
function unionOfPorts(lists: readonly number[][]): number[] {
  let read: Set<number[]> | undefined; // made for the first long list only
  const out = new Set<number>();
  for (const list of lists) {
    if (list.length > SHORT_LIST) {
      if (read?.has(list)) continue;
      (read ??= new Set()).add(list);
    }
    for (const p of list) out.add(p);
  }
  return [...out];
}

/** Lists up to this long are cheaper to read again than to remember (a Set keyed by each costs more). */
export const SHORT_LIST = 16;
