// The shared vocabulary of the pure core. Everything in src/core is a function
// of these values only: no clock, no files, no network. The webhook (src/server)
// and the CLI (src/cli) are thin shells that feed pods in and carry decisions out.

/** Annotation prefix; every key ws-drain reads or writes lives under it. */
export const PREFIX = 'ws-drain/';

/** Keys written by the injector. */
export const INJECTED_ANNOTATION = `${PREFIX}injected`;
export const PLAN_ANNOTATION = `${PREFIX}plan`;

/** Names of what gets injected; tests and the e2e suite look for these. */
export const VOLUME_NAME = 'ws-drain';
export const MOUNT_PATH = '/ws-drain';
export const INIT_CONTAINER_NAME = 'ws-drain-install';
export const HELPER_BINARY = `${MOUNT_PATH}/ws-drain-helper`;

export type DrainSignal = 'SIGQUIT' | 'SIGUSR2' | 'SIGTERM' | 'SIGHUP' | 'SIGINT' | 'SIGUSR1';
export type Mode = 'drain' | 'sleep';
export type Enforce = 'raise' | 'reject' | 'warn';
/** drain: the pod's own preStop starts the drain (at D); after: it runs once the drain is over; auto: drain for a recognised server drain command. */
export type ExistingHookMode = 'auto' | 'drain' | 'after';

/** A loopback HTTP call, normalised from `[METHOD ]:PORT/PATH` or `[METHOD ]http://127.0.0.1:PORT/PATH`. */
export interface HttpCall {
  method: string;
  port: number;
  path: string;
}

/** Cluster-wide settings of one webhook (flags / env), also used by the CLI. */
export interface WebhookConfig {
  helperImage: string;
  /** Version string written to ws-drain/injected. */
  helperVersion: string;
  maxGraceSeconds: number;
  defaultSessionP95Seconds: number;
  defaultPrestopDelaySeconds: number;
  defaultCleanupSeconds: number;
  /** 0.3 means 30 %. */
  defaultMargin: number;
  /** Namespaces never touched (the webhook's own and kube-system are always added). */
  excludeNamespaces: string[];
}

/** The timing plan, in seconds. Written as JSON into ws-drain/plan. */
export interface Plan {
  mode: Mode;
  enforce: Enforce;
  /** D: endpoint-propagation delay, including a folded native sleep hook. */
  prestopDelaySeconds: number;
  /** Seconds of an existing native `sleep` preStop folded into D (absent when none). */
  foldedSleepSeconds?: number;
  /** S: drain budget (session p95). */
  sessionP95Seconds: number;
  /** C: cleanup after SIGTERM. */
  cleanupSeconds: number;
  /** M as a fraction (0.3 = 30 %). */
  margin: number;
  /** ceil((D + S + C) × (1 + M)). */
  requiredGraceSeconds: number;
  /** What the pod ends up with (equal to required in raise mode when it was lower). */
  graceSeconds: number;
  /** Every regular container: its role in the drain and the ports it watches. */
  containers: ContainerRole[];
  /** App ports not watched as sessions (metrics, admin, probe-only...), and why. Absent when none. */
  portsLeftOut?: LeftOutPort[];
  /** Existing exec/httpGet preStop hooks run as the drain trigger (at D) instead of after the drain. */
  hooksAsTrigger?: string[];
  signal?: DrainSignal;
  http?: HttpCall;
  /** Node kinds the pod asks for whose limit its grace exceeds (platform-limits.ts), strictest first. */
  platformLimits?: Array<{ name: string; limitSeconds: number }>;
  /**
   * Where the opt-in ("enabled") and each value came from, by annotation name
   * without the prefix: the pod, its namespace, or the webhook's defaults.
   */
  from?: Record<string, PlanSource>;
  /** ws-drain/ annotations of the namespace that were ignored (namespace-defaults.ts). Absent when none. */
  namespaceIgnored?: string[];
}

/** Where a plan value came from. */
export type PlanSource = 'pod' | 'namespace' | 'default';

/**
 * app: serves the watched sessions, gets the drain trigger. proxy: carries
 * traffic for the app (mesh proxy, TLS/HTTP proxy); waits for the app's
 * sessions to close, never signalled. none: left alone.
 */
export type Role = 'app' | 'proxy' | 'none';

export interface ContainerRole {
  name: string;
  role: Role;
  /** Watched ports: an app's session ports; for a proxy, the apps' ports it waits on. */
  ports: number[];
  /** Why this role, in a few words. */
  why: string;
}

/** A port of an app container that is not watched as a session port. */
export interface LeftOutPort {
  container: string;
  port: number;
  why: string;
}

/** Why a pod was left alone. */
export type SkipReason =
  | 'not-opted-in'
  | 'opted-out'
  /** Opted in by the namespace label, but no container serves a TCP port. */
  | 'no-tcp-port'
  | 'excluded-namespace'
  | 'already-injected'
  | 'windows'
  | 'not-a-pod-create';

/**
 * What the core decided for one pod. The server turns this into an
 * AdmissionResponse; the CLI into YAML or an exit code.
 */
export type Decision =
  | { kind: 'skip'; reason: SkipReason; warnings: string[] }
  | { kind: 'deny'; code: 400 | 422; message: string }
  | {
      kind: 'mutate';
      plan: Plan;
      /** RFC 6902 operations turning the input pod into `pod`. */
      patch: Array<{ op: string; path: string; value?: unknown; from?: string }>;
      pod: unknown;
      warnings: string[];
    };
