// The fields of Kubernetes objects that the checks read, validated once at the
// edge (the fetch layer) with zod. Everything else passes through untouched:
// pods and pod templates go to the core's decide() exactly as the API server
// returned them.
import { z } from 'zod';

const StringMap = z.record(z.string(), z.string());

export const Metadata = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels: StringMap.nullish(),
  annotations: StringMap.nullish(),
  ownerReferences: z.array(z.looseObject({ kind: z.string(), name: z.string(), controller: z.boolean().nullish() })).nullish(),
});

const LabelSelectorRequirement = z.looseObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullish() });
export const LabelSelector = z.looseObject({
  matchLabels: StringMap.nullish(),
  matchExpressions: z.array(LabelSelectorRequirement).nullish(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

const Obj = z.looseObject({ apiVersion: z.string().optional(), kind: z.string().optional(), metadata: Metadata });
export type KubeObject = z.infer<typeof Obj>;

const Container = z.looseObject({
  name: z.string(),
  image: z.string().optional(),
  args: z.array(z.string()).nullish(),
  command: z.array(z.string()).nullish(),
  env: z.array(z.looseObject({ name: z.string(), value: z.string().nullish() })).nullish(),
});

export const PodTemplate = z.looseObject({
  metadata: z.looseObject({ labels: StringMap.nullish(), annotations: StringMap.nullish() }).nullish(),
  spec: z.looseObject({ containers: z.array(Container) }),
});

export const Pod = Obj.extend({
  spec: z.looseObject({
    nodeName: z.string().nullish(),
    terminationGracePeriodSeconds: z.number().nullish(),
    containers: z.array(Container),
  }),
  status: z.looseObject({ phase: z.string().optional() }).nullish(),
});
export type Pod = z.infer<typeof Pod>;

/** Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, Argo Rollouts: spec.template. CronJobs are separate. */
export const Workload = Obj.extend({
  spec: z.looseObject({
    selector: LabelSelector.nullish(),
    template: PodTemplate,
    strategy: z
      .looseObject({
        type: z.string().optional(),
        rollingUpdate: z.looseObject({ maxSurge: z.union([z.number(), z.string()]).nullish(), maxUnavailable: z.union([z.number(), z.string()]).nullish() }).nullish(),
      })
      .nullish(),
    replicas: z.number().nullish(),
  }),
});
export type Workload = z.infer<typeof Workload>;

export const CronJob = Obj.extend({
  spec: z.looseObject({ jobTemplate: z.looseObject({ spec: z.looseObject({ template: PodTemplate }) }) }),
});
export type CronJob = z.infer<typeof CronJob>;

export const Namespace = Obj;
export type Namespace = KubeObject;

export const Node = Obj;
export type Node = KubeObject;

export const ServicePort = z.looseObject({
  name: z.string().nullish(),
  port: z.number(),
  targetPort: z.union([z.number(), z.string()]).nullish(),
});
export const Service = Obj.extend({
  spec: z.looseObject({
    selector: StringMap.nullish(),
    clusterIP: z.string().nullish(),
    ports: z.array(ServicePort).nullish(),
  }),
});
export type Service = z.infer<typeof Service>;

export const EndpointSlice = Obj.extend({
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()),
        conditions: z.looseObject({ ready: z.boolean().nullish() }).nullish(),
      }),
    )
    .nullish(),
  ports: z.array(z.looseObject({ name: z.string().nullish(), port: z.number().nullish() })).nullish(),
});
export type EndpointSlice = z.infer<typeof EndpointSlice>;

export const ConfigMap = Obj.extend({ data: StringMap.nullish() });
export type ConfigMap = z.infer<typeof ConfigMap>;

const ServiceBackend = z.looseObject({
  service: z.looseObject({ name: z.string(), port: z.looseObject({ number: z.number().nullish(), name: z.string().nullish() }).nullish() }).nullish(),
});
export const Ingress = Obj.extend({
  spec: z.looseObject({
    ingressClassName: z.string().nullish(),
    defaultBackend: ServiceBackend.nullish(),
    rules: z
      .array(z.looseObject({ http: z.looseObject({ paths: z.array(z.looseObject({ backend: ServiceBackend })) }).nullish() }))
      .nullish(),
  }),
});
export type Ingress = z.infer<typeof Ingress>;

export const IngressClass = Obj.extend({ spec: z.looseObject({ controller: z.string().nullish() }).nullish() });
export type IngressClass = z.infer<typeof IngressClass>;

export const HTTPRoute = Obj.extend({
  spec: z.looseObject({
    rules: z
      .array(
        z.looseObject({
          backendRefs: z
            .array(z.looseObject({ name: z.string(), namespace: z.string().nullish(), kind: z.string().nullish(), group: z.string().nullish() }))
            .nullish(),
          timeouts: z.looseObject({ request: z.string().nullish(), backendRequest: z.string().nullish() }).nullish(),
        }),
      )
      .nullish(),
  }),
});
export type HTTPRoute = z.infer<typeof HTTPRoute>;

const Webhook = z.looseObject({
  name: z.string(),
  failurePolicy: z.string().nullish(),
  namespaceSelector: LabelSelector.nullish(),
  objectSelector: LabelSelector.nullish(),
  matchConditions: z.array(z.looseObject({ name: z.string(), expression: z.string() })).nullish(),
  clientConfig: z.looseObject({
    url: z.string().nullish(),
    caBundle: z.string().nullish(),
    service: z.looseObject({ name: z.string(), namespace: z.string(), path: z.string().nullish(), port: z.number().nullish() }).nullish(),
  }),
});
export const MutatingWebhookConfiguration = Obj.extend({ webhooks: z.array(Webhook).nullish() });
export type MutatingWebhookConfiguration = z.infer<typeof MutatingWebhookConfiguration>;
export type WebhookEntry = z.infer<typeof Webhook>;

export const ValidatingAdmissionPolicy = Obj;
export const ValidatingAdmissionPolicyBinding = Obj.extend({
  spec: z.looseObject({ policyName: z.string().nullish(), validationActions: z.array(z.string()).nullish() }).nullish(),
});
export type ValidatingAdmissionPolicyBinding = z.infer<typeof ValidatingAdmissionPolicyBinding>;

/** GKE's BackendConfig (cloud.google.com/v1): the load balancer's backend service settings. */
export const BackendConfig = Obj.extend({ spec: z.looseObject({ timeoutSec: z.number().nullish() }).nullish() });
export type BackendConfig = z.infer<typeof BackendConfig>;
