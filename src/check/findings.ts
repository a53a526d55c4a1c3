// The finding model of `ws-drain check`: every problem has a stable code, a
// severity, the object it is about, what is wrong (with the numbers) and the
// fix. Codes never change meaning; docs/check.md has one entry per code (a
// unit test keeps the two in step).

export type Severity = 'error' | 'warning' | 'info';

/** The object a finding is about, as kubectl names it. */
export interface ObjectRef {
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
}

export interface Finding {
  code: FindingCode;
  severity: Severity;
  object: ObjectRef;
  message: string;
  fix: string;
}

interface CodeInfo {
  severity: Severity;
  /** One line: what the code means (docs/check.md repeats it). */
  title: string;
}

/**
 * WSD1xx install, WSD2xx opted-in workloads and pods, WSD3xx the path in front
 * of them, WSD4xx rollout settings, WSD9xx what check itself could not read.
 */
export const CODES = {
  WSD101: { severity: 'error', title: 'no ws-drain MutatingWebhookConfiguration' },
  WSD102: { severity: 'error', title: "the webhook's Service does not exist" },
  WSD103: { severity: 'error', title: "the webhook's Service has no ready endpoints" },
  WSD104: { severity: 'error', title: 'the webhook does not answer TLS connections' },
  WSD105: { severity: 'error', title: "the caBundle does not verify the certificate the webhook serves" },
  WSD106: { severity: 'warning', title: 'a webhook certificate expires soon or has expired' },
  WSD107: { severity: 'info', title: 'the served certificate could not be checked from here' },
  WSD108: { severity: 'warning', title: 'the guard ValidatingAdmissionPolicy is missing' },
  WSD109: { severity: 'warning', title: 'the guard policy binding is missing or does not deny' },
  WSD110: { severity: 'info', title: 'failurePolicy: Fail: opted-in pods cannot be created while the webhook is down' },
  WSD111: { severity: 'warning', title: 'webhook and helper image versions differ' },
  WSD201: { severity: 'error', title: 'the webhook would deny this workload\'s pods' },
  WSD202: { severity: 'error', title: 'a running pod opted in but was not injected' },
  WSD203: { severity: 'warning', title: 'a pod was injected by an older helper version than the webhook\'s' },
  WSD204: { severity: 'warning', title: 'the grace period is longer than the platform honours' },
  WSD205: { severity: 'info', title: 'opted in, but outside the webhook\'s selectors' },
  WSD301: { severity: 'warning', title: 'an ingress proxy timeout is shorter than the session p95' },
  WSD302: { severity: 'warning', title: "ingress-nginx's worker-shutdown-timeout is shorter than the session p95" },
  WSD303: { severity: 'warning', title: 'an HTTPRoute timeout is shorter than the session p95' },
  WSD304: { severity: 'warning', title: 'a proxy timeout value cannot be read' },
  WSD305: { severity: 'warning', title: "a GKE load balancer's backend timeout (a WebSocket's longest life) is shorter than the session p95" },
  WSD401: { severity: 'info', title: 'maxSurge: 0 with a long drain: capacity is lost during rollouts' },
  WSD402: { severity: 'warning', title: 'strategy Recreate with a long drain: no pod serves during the drain' },
  WSD403: { severity: 'info', title: 'a StatefulSet with a long drain: rollouts take replicas × drain' },
  WSD901: { severity: 'info', title: 'check could not read some objects; the checks that need them were skipped' },
} as const satisfies Record<string, CodeInfo>;

export type FindingCode = keyof typeof CODES;

/** A finding with the code's default severity unless the rule has a reason to differ. */
export function finding(code: FindingCode, object: ObjectRef, message: string, fix: string, severity?: Severity): Finding {
  return { code, severity: severity ?? CODES[code].severity, object, message, fix };
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then by code, then by object: a stable order for tables and diffs. */
export function sortFindings(findings: Finding[]): Finding[] {
  const key = (f: Finding) => `${f.object.namespace ?? ''}/${f.object.kind}/${f.object.name}`;
  return [...findings].sort(
    (a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.code.localeCompare(b.code) || key(a).localeCompare(key(b)) || a.message.localeCompare(b.message),
  );
}

/** Exit status of `ws-drain check`: 1 when anything is wrong; notes (info) alone keep 0. */
export function exitCodeFor(findings: readonly Finding[]): 0 | 1 {
  return findings.some((f) => f.severity !== 'info') ? 1 : 0;
}
