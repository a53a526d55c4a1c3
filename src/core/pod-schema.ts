// The edge validation of a pod: only the fields ws-drain reads are checked.
// The core validates with these schemas but works on the input itself (zod's
// output is dropped), so every other field stays as it is and the mutated pod
// is the input pod plus our changes and nothing else. Plain (stripping)
// objects rather than loose ones: zod then skips unknown keys instead of
// copying them, which is a third cheaper on a typical pod.

import { z } from 'zod';

/**
 * Annotations, labels, nodeSelector: string keys to string values. Checked as
 * an object whose every member is a string rather than as a z.record, which
 * also runs a key schema per member (JSON keys are strings already): the same
 * issues at the same paths ("metadata.annotations.x: expected string"), at a
 * third of the cost per member (bench/review.ts).
 */
export const StringMap = z.object({}).catchall(z.string());

const Port = z.object({
  containerPort: z.number().int().min(1).max(65535),
  name: z.string().optional(),
  protocol: z.string().optional(),
});

const HttpGet = z.object({
  path: z.string().optional(),
  port: z.union([z.number().int(), z.string()]),
  host: z.string().optional(),
  scheme: z.string().optional(),
  httpHeaders: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
});

const Handler = z.object({
  exec: z.object({ command: z.array(z.string()).nullish() }).nullish(),
  httpGet: HttpGet.nullish(),
  tcpSocket: z.object({}).nullish(),
  sleep: z.object({ seconds: z.number().int().min(0) }).nullish(),
});

const PortRef = z.union([z.number().int(), z.string()]);
// Probes: only where they point, to tell probe-only ports from session ports.
const Probe = z.object({
  httpGet: z.object({ port: PortRef }).nullish(),
  tcpSocket: z.object({ port: PortRef }).nullish(),
  grpc: z.object({ port: z.number().int() }).nullish(),
});

const VolumeMount = z.object({
  name: z.string(),
  mountPath: z.string(),
  readOnly: z.boolean().optional(),
});

const Container = z.object({
  name: z.string(),
  image: z.string().optional(),
  command: z.array(z.string()).nullish(),
  args: z.array(z.string()).nullish(),
  ports: z.array(Port).nullish(),
  livenessProbe: Probe.nullish(),
  readinessProbe: Probe.nullish(),
  startupProbe: Probe.nullish(),
  lifecycle: z.object({ preStop: Handler.nullish() }).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
  restartPolicy: z.string().optional(),
});

// Scheduling fields, read only to name the node kind a pod asks for (platform-limits.ts).
const NodeSelectorRequirement = z.object({
  key: z.string(),
  operator: z.string(),
  values: z.array(z.string()).nullish(),
});
const NodeSelectorTerm = z.object({ matchExpressions: z.array(NodeSelectorRequirement).nullish() });
const Affinity = z.object({
  nodeAffinity: z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z.object({ nodeSelectorTerms: z.array(NodeSelectorTerm).nullish() }).nullish(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.object({ preference: NodeSelectorTerm.nullish() })).nullish(),
    })
    .nullish(),
});
const Toleration = z.object({
  key: z.string().nullish(),
  operator: z.string().nullish(),
  value: z.string().nullish(),
  effect: z.string().nullish(),
});

export const PodMetadataSchema = z.object({
  name: z.string().optional(),
  namespace: z.string().optional(),
  annotations: StringMap.nullish(),
});

export const PodSchema = z.object({
  metadata: PodMetadataSchema.optional(),
  spec: z.object({
    containers: z.array(Container),
    initContainers: z.array(Container).nullish(),
    volumes: z.array(z.object({ name: z.string() })).nullish(),
    terminationGracePeriodSeconds: z.number().int().min(0).nullish(),
    os: z.object({ name: z.string().optional() }).nullish(),
    nodeSelector: StringMap.nullish(),
    hostNetwork: z.boolean().nullish(),
    affinity: Affinity.nullish(),
    tolerations: z.array(Toleration).nullish(),
  }),
});

export type Pod = z.infer<typeof PodSchema>;

/** Uses of a schema by zod's parser before the schema compiled by zod takes over (compiledAfterUse). */
export const COMPILE_AFTER_PODS = 1000;

/**
 * `schema` for its first COMPILE_AFTER_PODS uses, then the same schema
 * compiled by zod (z.compile: a clone whose generated code runs the same
 * checks and builds the same output; zod's parser re-runs on whatever it
 * rejects, for the issues). The compiled code runs fewer instructions and
 * touches far fewer cache lines than the parser's walk over the schema's
 * objects: what a paced review, which meets the CPU's caches cold, pays for
 * (docs/performance.md). Compiling costs CPU (~20 ms for PodSchema, a few ms
 * for a small schema) that a CLI run or the webhook's first answer (its cold
 * start) would pay: only a process that has used the schema that often compiles.
 */
export function compiledAfterUse<S extends z.ZodType>(schema: S): () => S {
  let uses = 0;
  let compiled: S | undefined;
  return () => compiled ?? (++uses >= COMPILE_AFTER_PODS ? (compiled = z.compile(schema)) : schema);
}

const podSchema = compiledAfterUse(PodSchema);

/**
 * True when `input` passes PodSchema. The core works on the input itself, so
 * the copy of the pod that safeParse builds is garbage: 8.1 KiB and 3.5 µs a
 * pod (bench/review.ts). Once compiled (compiledAfterUse), its assert-only
 * `validate` answers with 3.2 KiB (it still copies optional members) in 0.5 µs.
 * Either way the same answer.
 */
export function isPod(input: unknown): input is Pod {
  const schema = podSchema();
  return schema === PodSchema ? PodSchema.safeParse(input).success : schema.validate(input);
}

export type PodSpec = Pod['spec'];
export type Container = z.infer<typeof Container>;
export type ContainerPort = z.infer<typeof Port>;
export type LifecycleHandler = z.infer<typeof Handler>;
export type HttpGetAction = z.infer<typeof HttpGet>;
export type Probe = z.infer<typeof Probe>;
export type NodeSelectorRequirement = z.infer<typeof NodeSelectorRequirement>;

/** A short, human description of why a value is not a pod. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${path === '' ? '(root)' : path}: ${issue.message}`;
    })
    .join('; ');
}
