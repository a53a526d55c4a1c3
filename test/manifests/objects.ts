// Typed views of the rendered objects the manifests tests look into. Each
// schema covers only the fields asserted on; zod rejects a render whose shape
// differs, so a test never reads a field through an unchecked cast.
import { z } from 'zod';
import type { KubeObject } from './render.js';

const LabelSelector = z.looseObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(z.looseObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() }))
    .optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

const Probe = z.looseObject({
  httpGet: z.looseObject({ path: z.string(), port: z.union([z.string(), z.number()]), scheme: z.string().optional() }).optional(),
});

const SecurityContext = z.looseObject({
  runAsNonRoot: z.boolean().optional(),
  runAsUser: z.number().optional(),
  runAsGroup: z.number().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capabilities: z.looseObject({ drop: z.array(z.string()).optional(), add: z.array(z.string()).optional() }).optional(),
  seccompProfile: z.looseObject({ type: z.string() }).optional(),
});
export type SecurityContext = z.infer<typeof SecurityContext>;

const Resources = z.looseObject({
  requests: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  limits: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});

const EnvVar = z.looseObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.looseObject({ fieldRef: z.looseObject({ fieldPath: z.string() }).optional() }).optional(),
});

export const Container = z.looseObject({
  name: z.string(),
  image: z.string(),
  args: z.array(z.string()).optional(),
  command: z.array(z.string()).optional(),
  env: z.array(EnvVar).optional(),
  ports: z.array(z.looseObject({ name: z.string().optional(), containerPort: z.number() })).optional(),
  readinessProbe: Probe.optional(),
  livenessProbe: Probe.optional(),
  lifecycle: z
    .looseObject({ preStop: z.looseObject({ sleep: z.looseObject({ seconds: z.number() }).optional() }).optional() })
    .optional(),
  resources: Resources.optional(),
  securityContext: SecurityContext.optional(),
  volumeMounts: z
    .array(z.looseObject({ name: z.string(), mountPath: z.string(), subPath: z.string().optional(), readOnly: z.boolean().optional() }))
    .optional(),
});
export type Container = z.infer<typeof Container>;

const TopologySpreadConstraint = z.looseObject({
  maxSkew: z.number(),
  topologyKey: z.string(),
  whenUnsatisfiable: z.string(),
  labelSelector: LabelSelector.optional(),
});

export const Deployment = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string() }),
  spec: z.looseObject({
    replicas: z.number(),
    selector: LabelSelector,
    template: z.looseObject({
      metadata: z.looseObject({
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).optional(),
      }),
      spec: z.looseObject({
        serviceAccountName: z.string().optional(),
        automountServiceAccountToken: z.boolean().optional(),
        terminationGracePeriodSeconds: z.number().optional(),
        securityContext: SecurityContext.optional(),
        topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
        containers: z.array(Container).min(1),
        initContainers: z.array(Container).optional(),
        volumes: z
          .array(z.looseObject({ name: z.string(), secret: z.looseObject({ secretName: z.string() }).optional() }))
          .optional(),
      }),
    }),
  }),
});
export type Deployment = z.infer<typeof Deployment>;

export const Service = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string(), labels: z.record(z.string(), z.string()).optional() }),
  spec: z.looseObject({
    selector: z.record(z.string(), z.string()),
    ports: z.array(z.looseObject({ name: z.string(), port: z.number(), targetPort: z.union([z.string(), z.number()]) })),
  }),
});
export type Service = z.infer<typeof Service>;

export const PodDisruptionBudget = z.looseObject({
  metadata: z.looseObject({ namespace: z.string() }),
  spec: z.looseObject({ minAvailable: z.number().optional(), maxUnavailable: z.number().optional(), selector: LabelSelector }),
});

const PolicyPort = z.looseObject({ port: z.union([z.string(), z.number()]).optional(), protocol: z.string().optional() });
export const NetworkPolicy = z.looseObject({
  metadata: z.looseObject({ namespace: z.string() }),
  spec: z.looseObject({
    podSelector: LabelSelector,
    policyTypes: z.array(z.string()),
    ingress: z.array(z.looseObject({ from: z.array(z.unknown()).optional(), ports: z.array(PolicyPort).optional() })),
    egress: z.array(z.looseObject({ to: z.array(z.unknown()).optional(), ports: z.array(PolicyPort).optional() })).optional(),
  }),
});

const Rule = z.looseObject({
  operations: z.array(z.string()),
  apiGroups: z.array(z.string()),
  apiVersions: z.array(z.string()),
  resources: z.array(z.string()),
  scope: z.string().optional(),
});

// What the mutating and validating registrations share: identity, metadata and
// the fields every webhook entry of both kinds must set.
const WebhookMetadata = z.looseObject({ name: z.string(), annotations: z.record(z.string(), z.string()).optional() });
const ServiceReference = z.looseObject({ name: z.string(), namespace: z.string(), path: z.string(), port: z.number() });
const MatchCondition = z.looseObject({ name: z.string(), expression: z.string() });
const webhookFields = {
  name: z.string(),
  admissionReviewVersions: z.array(z.string()),
  sideEffects: z.string(),
  timeoutSeconds: z.number(),
  failurePolicy: z.string(),
  namespaceSelector: LabelSelector,
  objectSelector: LabelSelector,
};

export const MutatingWebhookConfiguration = z.looseObject({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  metadata: WebhookMetadata,
  webhooks: z.array(
    z.looseObject({
      ...webhookFields,
      reinvocationPolicy: z.string(),
      matchPolicy: z.string(),
      rules: z.array(Rule),
      matchConditions: z.array(MatchCondition).optional(),
      clientConfig: z.looseObject({ caBundle: z.string().optional(), url: z.string().optional(), service: ServiceReference }),
    }),
  ),
});
export type MutatingWebhookConfiguration = z.infer<typeof MutatingWebhookConfiguration>;

export const ValidatingWebhookConfiguration = z.looseObject({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  metadata: WebhookMetadata,
  webhooks: z.array(
    z.looseObject({
      ...webhookFields,
      rules: z.array(z.looseObject({ operations: z.array(z.string()), apiGroups: z.array(z.string()), resources: z.array(z.string()), scope: z.string().optional() })),
      matchConditions: z.array(MatchCondition).optional(),
      clientConfig: z.looseObject({ service: ServiceReference }),
    }),
  ),
});

export const ValidatingAdmissionPolicy = z.looseObject({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  metadata: z.looseObject({ name: z.string() }),
  spec: z.looseObject({
    failurePolicy: z.string(),
    matchConstraints: z.looseObject({ resourceRules: z.array(Rule) }),
    variables: z.array(z.looseObject({ name: z.string(), expression: z.string() })).optional(),
    validations: z.array(z.looseObject({ expression: z.string(), message: z.string().optional(), reason: z.string().optional() })),
  }),
});

export const ValidatingAdmissionPolicyBinding = z.looseObject({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  spec: z.looseObject({
    policyName: z.string(),
    validationActions: z.array(z.string()),
    matchResources: z.looseObject({ namespaceSelector: LabelSelector, objectSelector: LabelSelector }),
  }),
});

export const Certificate = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string() }),
  spec: z.looseObject({
    secretName: z.string(),
    isCA: z.boolean().optional(),
    dnsNames: z.array(z.string()).optional(),
    duration: z.string(),
    renewBefore: z.string(),
    issuerRef: z.looseObject({ name: z.string(), kind: z.string() }),
  }),
});
export type Certificate = z.infer<typeof Certificate>;

export const Issuer = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string() }),
  spec: z.looseObject({
    selfSigned: z.looseObject({}).optional(),
    ca: z.looseObject({ secretName: z.string() }).optional(),
  }),
});

export const ServiceMonitor = z.looseObject({
  metadata: z.looseObject({ namespace: z.string() }),
  spec: z.looseObject({
    selector: LabelSelector,
    namespaceSelector: z.looseObject({ matchNames: z.array(z.string()) }),
    endpoints: z.array(z.looseObject({ port: z.string(), path: z.string(), scheme: z.string().optional() })),
  }),
});

export const PrometheusRule = z.looseObject({
  spec: z.looseObject({
    groups: z.array(z.looseObject({ name: z.string(), rules: z.array(z.looseObject({ alert: z.string(), expr: z.string() })) })),
  }),
});

export const ConfigMap = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string(), labels: z.record(z.string(), z.string()).optional() }),
  data: z.record(z.string(), z.string()),
});

/** All rendered objects of one kind (and name, when given). */
export function ofKind(objects: KubeObject[], kind: string, name?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

/** Exactly one object of the kind, parsed with the schema; a clear failure otherwise. */
export function one<T>(objects: KubeObject[], kind: string, schema: z.ZodType<T>, name?: string): T {
  const found = ofKind(objects, kind, name);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${kind}${name ? ` named ${name}` : ''} in the render, found ${found.length}`);
  }
  const parsed = schema.safeParse(found[0]);
  if (!parsed.success) throw new Error(`${kind} ${found[0]!.metadata.name} has an unexpected shape: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Whether a label selector (matchLabels + matchExpressions) selects the given labels. */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        throw new Error(`unknown label selector operator ${e.operator}`);
    }
  }
  return true;
}
