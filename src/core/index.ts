// Public API of the pure core.
export * from './types.js';
export { DEFAULT_CONFIG, ALWAYS_EXCLUDED_NAMESPACES } from './config.js';
export { VERSION } from './version.js';
export { parseDuration, parseMargin, formatSeconds, MAX_MARGIN } from './duration.js';
export {
  ANNOTATION,
  KNOWN_KEYS,
  SIGNALS,
  MODES,
  ENFORCE_MODES,
  parseAnnotations,
  parseDrainHttp,
  drainUrl,
  readOptIn,
  type DrainRequest,
  type AnnotationResult,
  type OptIn,
  type PortRef,
} from './annotations.js';
export { requiredGraceSeconds, resolveGrace, buildPlan, KUBERNETES_DEFAULT_GRACE_SECONDS } from './plan.js';
export { prestopArgv, isHelperCommand, INSTALL_COMMAND, HELPER_IMAGE_BINARY, type PrestopArgs } from './helper-argv.js';
export { injectPod, helperVolume, installInitContainer, helperMount, isAlreadyInjected, injectionMarks, isWindowsPod } from './inject.js';
export { MAX_MESSAGE_CHARS, MAX_WARNINGS, boundedMessage, boundedWarnings } from './limits.js';
export { diffPatch, type PatchOperation } from './patch.js';
export { decide } from './decide.js';
export { unknownKeys, unknownKeyErrors, suggestKeys } from './unknown-keys.js';
export { platformLimits, NODE_KINDS, CLUSTER_AUTOSCALER_MAX_GRACE_SECONDS, type PlatformLimit, type NodeKind } from './platform-limits.js';
export {
  INJECT_LABEL,
  INJECT_ENABLED,
  INJECT_DISABLED,
  NAMESPACE_DEFAULT_KEYS,
  readNamespaceDefaults,
  mergeNamespaceDefaults,
  namespaceOptsIn,
  hasSessionCandidate,
  validateNamespace,
  type NamespaceView,
  type NamespaceDefaults,
  type NamespaceValidation,
} from './namespace-defaults.js';
export { decideWorkload, decideDocument, documentNamespace, documentWarnings, listItems, podTemplate, type WorkloadDecision, type ObjectResult } from './workloads.js';
export { validateWorkload, type Validation } from './validate-workload.js';
export { explainPlan } from './explain.js';
export { PodSchema, type Pod } from './pod-schema.js';
