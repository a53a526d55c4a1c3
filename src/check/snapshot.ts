// Everything the checks look at, fetched once. The rules are pure functions
// of this value (and of `now`, carried in it), so each rule is unit-testable
// without a cluster and the fetch layer is the only part doing I/O.
import type {
  BackendConfig,
  ConfigMap,
  CronJob,
  EndpointSlice,
  HTTPRoute,
  Ingress,
  IngressClass,
  KubeObject,
  MutatingWebhookConfiguration,
  Namespace,
  Node,
  Pod,
  Service,
  ValidatingAdmissionPolicyBinding,
  Workload,
} from './objects.js';
import type { WebhookConfig } from '../core/types.js';

/** The certificate the webhook presented, as read from the TLS handshake. */
export interface ServedCertificate {
  subject: string;
  issuer: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
}

/**
 * One connection attempt to one webhook, made the way the API server makes it
 * (same host name for SNI and verification, the caBundle as the only trust).
 */
export interface WebhookProbe {
  /** MutatingWebhookConfiguration name and webhook name. */
  configName: string;
  webhookName: string;
  /**
   * direct: a TLS connection from where check runs (the URL's host, or the
   * Service's endpoints / cluster IP); service-proxy: only an HTTPS GET through
   * the API server's service proxy was possible, which says the webhook answers
   * but not which certificate it serves; none: neither was possible.
   */
  method: 'direct' | 'service-proxy' | 'none';
  /** host:port connected to (direct) or the proxy path (service-proxy). */
  target?: string;
  /** Name the certificate must carry: the URL host or <service>.<namespace>.svc. */
  serverName: string;
  /** Why no connection (or proxy call) succeeded, per address tried. */
  errors: string[];
  /** direct: did the caBundle verify the served chain and name (what the API server checks)? */
  verified?: boolean;
  /** OpenSSL / Node reason when not verified (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  verifyError?: string;
  served?: ServedCertificate;
  /** service-proxy: the HTTP status of GET /readyz through the proxy. */
  proxyStatus?: number;
}

/** A resource check could not list, and why (403, API not served...). */
export interface Unreadable {
  /** plural.group, e.g. httproutes.gateway.networking.k8s.io */
  resource: string;
  /** Set when one object (not the whole list) could not be read. */
  namespace?: string;
  name?: string;
  reason: string;
}

export interface Snapshot {
  /** The clock of the run, so expiry rules stay pure. */
  now: Date;
  /** Namespaces whose workloads are reported; undefined = all (-A). */
  scope?: string[];
  namespaces: Namespace[];
  nodes: Node[];
  webhookConfigs: MutatingWebhookConfiguration[];
  policies: KubeObject[];
  policyBindings: ValidatingAdmissionPolicyBinding[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  deployments: Workload[];
  statefulSets: Workload[];
  daemonSets: Workload[];
  replicaSets: Workload[];
  jobs: Workload[];
  cronJobs: CronJob[];
  /** Argo Rollouts (argoproj.io/v1alpha1), when that API is served. */
  rollouts: Workload[];
  /** As the API server returned them (zod keeps every field), so decide() sees the real pod. */
  pods: Pod[];
  ingresses: Ingress[];
  ingressClasses: IngressClass[];
  httpRoutes: HTTPRoute[];
  /** GKE BackendConfigs, when that API is served. */
  backendConfigs: BackendConfig[];
  configMaps: ConfigMap[];
  probes: WebhookProbe[];
  unreadable: Unreadable[];
}

/** Where the webhook settings used for plans came from. */
export interface ConfigSource {
  config: WebhookConfig;
  /** e.g. "Deployment ws-drain-system/ws-drain-webhook" or "flags and defaults of this CLI". */
  source: string;
}
