// The only part of `ws-drain check` that talks to the cluster. It only ever
// sends GET requests (lists, one ConfigMap by name, and the service-proxy GET
// of the webhook's /readyz), authenticated by @kubernetes/client-node's
// KubeConfig exactly as kubectl would be. Objects are validated here with zod;
// anything that cannot be read becomes an `unreadable` entry, not a crash.
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { kubeConfigConnection, type KubeConnection } from '../kube/connection.js';
import * as O from './objects.js';
import { ingressNginxConfigMapRefs } from './path-rules.js';
import { probeWebhook } from './probe.js';
import type { Snapshot, Unreadable } from './snapshot.js';
import { findService, sameEndpointGroups, wsDrainWebhooks } from './webhook-install.js';

const REQUEST_TIMEOUT_MS = 30_000;
const PAGE_SIZE = 500;
/** Bounds the memory of one list (a page is at most PAGE_SIZE objects). */
const MAX_PAGES = 200;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A GET-only client over a KubeConfig's current context. */
export class KubeReader {
  // The same URL and credential building as serve's informer (src/kube): a
  // server URL with a path prefix (a cluster behind Rancher's proxy) keeps it.
  private readonly connection: KubeConnection;

  constructor(kc: KubeConfig) {
    this.connection = kubeConfigConnection(kc);
  }

  get server(): string {
    return this.connection.server;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const { url, options } = await this.connection.requestFor(path);
    const opts: import('node:https').RequestOptions = { ...options, method: 'GET', headers: { ...options.headers, accept: 'application/json' }, timeout: REQUEST_TIMEOUT_MS };
    const send = url.protocol === 'http:' ? httpRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', reject);
      });
      req.once('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.once('error', reject);
      req.end();
    });
  }

  async getJson(path: string): Promise<unknown> {
    const r = await this.get(path);
    if (r.status !== 200) throw new ApiError(r.status, `GET ${path}: ${r.status} ${statusMessage(r.body)}`);
    return JSON.parse(r.body) as unknown;
  }

  /** All items of a list, page by page. */
  async list(path: string, query = ''): Promise<unknown[]> {
    const items: unknown[] = [];
    let cont = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const body = (await this.getJson(`${path}${sep}limit=${PAGE_SIZE}${query ? `&${query}` : ''}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`)) as {
        items?: unknown[];
        metadata?: { continue?: string };
      };
      items.push(...(body.items ?? []));
      cont = body.metadata?.continue ?? '';
      if (!cont) return items;
    }
    throw new Error(`GET ${path}: more than ${MAX_PAGES * PAGE_SIZE} objects`);
  }
}

function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    return s.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

export interface FetchOptions {
  /** Namespaces whose workloads are checked; undefined = all. */
  scope?: string[];
  now?: Date;
}

type Resource = { name: string; group: string; version: string; plural: string; namespaced: boolean; optional?: boolean };
const core = (plural: string, namespaced = true): Resource => ({ name: plural, group: '', version: 'v1', plural, namespaced });
const res = (group: string, version: string, plural: string, namespaced = true, optional = false): Resource => ({
  name: `${plural}.${group}`,
  group,
  version,
  plural,
  namespaced,
  optional,
});

function basePath(r: Resource, namespace?: string): string {
  const root = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return namespace ? `${root}/namespaces/${namespace}/${r.plural}` : `${root}/${r.plural}`;
}

export async function fetchSnapshot(reader: KubeReader, opts: FetchOptions = {}): Promise<Snapshot> {
  const unreadable: Unreadable[] = [];

  /**
   * Lists cluster-wide; when that is forbidden and a scope was given, per
   * namespace (an identity with namespace-only rights still gets its checks).
   * An API that is not served (404) is absent: quietly for optional APIs.
   */
  async function list<T>(r: Resource, schema: z.ZodType<T>, scoped: boolean): Promise<T[]> {
    const namespaces = scoped && opts.scope && r.namespaced ? opts.scope : undefined;
    let raw: unknown[] = [];
    try {
      if (namespaces) for (const ns of namespaces) raw.push(...(await reader.list(basePath(r, ns))));
      else raw = await reader.list(basePath(r));
    } catch (err) {
      if (err instanceof ApiError && err.status === 403 && !namespaces && opts.scope && r.namespaced) return list(r, schema, true);
      if (err instanceof ApiError && err.status === 404 && r.optional) return [];
      unreadable.push({ resource: r.name, reason: err instanceof Error ? err.message : String(err) });
      return [];
    }
    const out: T[] = [];
    for (const item of raw) {
      const parsed = schema.safeParse(item);
      if (parsed.success) out.push(parsed.data);
      else {
        const meta = (item as { metadata?: { namespace?: string; name?: string } }).metadata;
        const issue = parsed.error.issues[0];
        unreadable.push({
          resource: r.name,
          ...(meta?.namespace ? { namespace: meta.namespace } : {}),
          name: meta?.name ?? '?',
          reason: `unexpected shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
        });
      }
    }
    return out;
  }

  const [namespaces, nodes, webhookConfigs, policies, policyBindings, deployments, daemonSets, ingressClasses, httpRoutes] = await Promise.all([
    list(core('namespaces', false), O.Namespace, false),
    list(core('nodes', false), O.Node, false),
    list(res('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', false), O.MutatingWebhookConfiguration, false),
    list(res('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicies', false, true), O.ValidatingAdmissionPolicy, false),
    list(res('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicybindings', false, true), O.ValidatingAdmissionPolicyBinding, false),
    // Cluster-wide even with -n: the webhook, cluster-autoscaler and ingress controllers live elsewhere.
    list(res('apps', 'v1', 'deployments'), O.Workload, false),
    list(res('apps', 'v1', 'daemonsets'), O.Workload, false),
    list(res('networking.k8s.io', 'v1', 'ingressclasses', false), O.IngressClass, false),
    // Routes in other namespaces may point at a scoped Service.
    list(res('gateway.networking.k8s.io', 'v1', 'httproutes', true, true), O.HTTPRoute, false),
  ]);
  const [statefulSets, replicaSets, jobs, cronJobs, rollouts, pods, services, ingresses, backendConfigs] = await Promise.all([
    list(res('apps', 'v1', 'statefulsets'), O.Workload, true),
    list(res('apps', 'v1', 'replicasets'), O.Workload, true),
    list(res('batch', 'v1', 'jobs'), O.Workload, true),
    list(res('batch', 'v1', 'cronjobs'), O.CronJob, true),
    list(res('argoproj.io', 'v1alpha1', 'rollouts', true, true), O.Workload, true),
    list(core('pods'), O.Pod, true),
    list(core('services'), O.Service, true),
    list(res('networking.k8s.io', 'v1', 'ingresses'), O.Ingress, true),
    list(res('cloud.google.com', 'v1', 'backendconfigs', true, true), O.BackendConfig, true),
  ]);

  const snapshot: Snapshot = {
    now: opts.now ?? new Date(),
    ...(opts.scope ? { scope: opts.scope } : {}),
    namespaces,
    nodes,
    webhookConfigs,
    policies,
    policyBindings,
    services,
    endpointSlices: [],
    deployments,
    statefulSets,
    daemonSets,
    replicaSets,
    jobs,
    cronJobs,
    rollouts,
    pods,
    ingresses,
    ingressClasses,
    httpRoutes,
    backendConfigs,
    configMaps: [],
    probes: [],
    unreadable,
  };

  // Objects read by name: the webhook's Service and its EndpointSlices, the ingress-nginx ConfigMaps.
  for (const { webhook } of wsDrainWebhooks(snapshot)) {
    const ref = webhook.clientConfig.service;
    if (!ref || findService(snapshot, ref.namespace, ref.name)) continue;
    const svc = await getOne(reader, `/api/v1/namespaces/${ref.namespace}/services/${ref.name}`, O.Service, unreadable);
    if (svc) snapshot.services.push(svc);
  }
  for (const { webhook } of wsDrainWebhooks(snapshot)) {
    const ref = webhook.clientConfig.service;
    if (!ref) continue;
    try {
      const items = await reader.list(`/apis/discovery.k8s.io/v1/namespaces/${ref.namespace}/endpointslices`, `labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${ref.name}`)}`);
      for (const item of items) {
        const parsed = O.EndpointSlice.safeParse(item);
        if (parsed.success) snapshot.endpointSlices.push(parsed.data);
      }
    } catch (err) {
      unreadable.push({ resource: `endpointslices.discovery.k8s.io in ${ref.namespace}`, reason: (err as Error).message });
    }
  }
  const seen = new Set<string>();
  for (const ref of ingressNginxConfigMapRefs([...deployments, ...daemonSets])) {
    const key = `${ref.namespace}/${ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const cm = await getOne(reader, `/api/v1/namespaces/${ref.namespace}/configmaps/${ref.name}`, O.ConfigMap, unreadable);
    if (cm) snapshot.configMaps.push(cm);
  }

  snapshot.probes = await Promise.all(
    sameEndpointGroups(wsDrainWebhooks(snapshot)).map(({ config, webhook }) => {
      const ref = webhook.clientConfig.service;
      const service = ref ? findService(snapshot, ref.namespace, ref.name) : undefined;
      const endpointSlices = ref
        ? snapshot.endpointSlices.filter((s) => s.metadata.namespace === ref.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === ref.name)
        : [];
      return probeWebhook({
        configName: config.metadata.name,
        webhook,
        ...(service ? { service } : {}),
        endpointSlices,
        proxyGet: async (path) => {
          const r = await reader.get(path);
          return { status: r.status };
        },
      });
    }),
  );
  return snapshot;
}

async function getOne<T>(reader: KubeReader, path: string, schema: z.ZodType<T>, unreadable: Unreadable[]): Promise<T | undefined> {
  try {
    const r = await reader.get(path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) {
      unreadable.push({ resource: path, reason: `${r.status} ${statusMessage(r.body)}` });
      return undefined;
    }
    const parsed = schema.safeParse(JSON.parse(r.body));
    if (parsed.success) return parsed.data;
    unreadable.push({ resource: path, reason: 'unexpected shape' });
  } catch (err) {
    unreadable.push({ resource: path, reason: (err as Error).message });
  }
  return undefined;
}
