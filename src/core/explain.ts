// Human text for `ws-drain plan`: the formula with the numbers in it, the
// termination timeline, and the margin.

import { drainUrl } from './annotations.js';
import type { Plan } from './types.js';

const pct = (m: number): string => `${Math.round(m * 1e4) / 100}%`;

export function explainPlan(plan: Plan): string {
  const d = plan.prestopDelaySeconds;
  const s = plan.sessionP95Seconds;
  const c = plan.cleanupSeconds;
  const sum = d + s + c;
  const factor = Math.round((1 + plan.margin) * 1e6) / 1e6;
  // Where a value came from (ws-drain/plan's "from"): the pod, its namespace, or the webhook's default.
  const src = (key: string): string => {
    const from = plan.from?.[key];
    return from === undefined ? '' : from === 'default' ? '  [webhook default]' : `  [${from}]`;
  };
  const lines: string[] = [];
  lines.push(`mode: ${plan.mode}${src('mode')}   enforce: ${plan.enforce}${src('enforce')}`);
  if (plan.from?.['enabled'] === 'namespace') lines.push('opted in by the namespace label ws-drain.io/inject=enabled');
  lines.push('');
  lines.push('grace = ceil((D + S + C) × (1 + M))');
  lines.push(`      = ceil((${d} + ${s} + ${c}) × (1 + ${plan.margin}))`);
  lines.push(`      = ceil(${sum} × ${factor}) = ${plan.requiredGraceSeconds}s`);
  lines.push(`  D = ${d}s  endpoint propagation before draining` + (plan.foldedSleepSeconds ? ` (includes ${plan.foldedSleepSeconds}s of the pod's own preStop sleep)` : '') + src('prestop-delay'));
  lines.push(`  S = ${s}s  session p95: ${plan.mode === 'drain' ? 'longest wait for connections to close' : "the app's own drain after SIGTERM"}${src('session-p95')}`);
  lines.push(`  C = ${c}s  cleanup after SIGTERM${src('cleanup')}`);
  lines.push(`  M = ${pct(plan.margin)}  margin: ${plan.requiredGraceSeconds - sum}s of slack${src('grace-margin')}`);
  if (plan.namespaceIgnored && plan.namespaceIgnored.length > 0) lines.push(`  ignored namespace annotations: ${plan.namespaceIgnored.join(', ')}`);
  lines.push('');
  const graceNote =
    plan.graceSeconds === plan.requiredGraceSeconds
      ? ''
      : plan.graceSeconds > plan.requiredGraceSeconds
        ? ' (the pod\'s own, higher value is kept)'
        : ` (below the required ${plan.requiredGraceSeconds}s: kept because enforce is warn)`;
  lines.push(`terminationGracePeriodSeconds: ${plan.graceSeconds}${graceNote}`);
  lines.push('');
  lines.push('timeline after the pod is deleted:');
  const t = (sec: number): string => `${sec}s`.padStart(7);
  lines.push(`${t(0)}  preStop starts; endpoints are removed from Services (D)`);
  if (plan.mode === 'drain') {
    const triggers = [
      ...(plan.signal ? [`${plan.signal} to the listening process`] : []),
      ...(plan.http ? [`${plan.http.method} ${drainUrl(plan.http)}`] : []),
      ...(plan.hooksAsTrigger ? [`the pod's own preStop of ${plan.hooksAsTrigger.join(', ')}`] : []),
    ];
    lines.push(`${t(d)}  drain starts${triggers.length ? `: ${triggers.join(', ')}` : ''}; waiting for connections to close (S)`);
    lines.push(`${t(d + s)}  preStop ends at the latest; SIGTERM; app cleans up (C)`);
  } else {
    lines.push(`${t(d)}  preStop sleep ends; SIGTERM; app drains (S) and cleans up (C)`);
  }
  lines.push(`${t(sum)}  expected exit`);
  lines.push(`${t(plan.graceSeconds)}  SIGKILL at the latest`);
  if (plan.containers.length > 0) {
    lines.push('');
    lines.push('containers:');
    for (const c of plan.containers) {
      const ports = c.ports.length ? c.ports.join(', ') : '(none watched)';
      if (c.role === 'app') lines.push(`  ${c.name}: app (${c.why}), gets the drain trigger, watches ${ports}`);
      else if (c.role === 'proxy') lines.push(`  ${c.name}: proxy (${c.why}), never signalled, stays up until ${ports} drained`);
      else lines.push(`  ${c.name}: left alone (${c.why})`);
    }
  }
  if (plan.portsLeftOut && plan.portsLeftOut.length > 0) {
    lines.push('');
    lines.push('ports not watched as sessions (ws-drain/ports overrides):');
    for (const l of plan.portsLeftOut) lines.push(`  ${l.container}:${l.port}  ${l.why}`);
  }
  return lines.join('\n');
}
