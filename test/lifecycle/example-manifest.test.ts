// The example the README tells newcomers to apply must stay a valid apps/v1
// Deployment that ws-drain opts in, with a plan whose drain trigger matches the
// server's own flag.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { HELPER_BINARY } from '../../src/core/types.js';
import { decideWorkload } from '../../src/core/workloads.js';
import { REPO_ROOT } from './harness/helper-binary.js';

const Container = z.object({
  name: z.string(),
  args: z.array(z.string()),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number(), protocol: z.string() })),
  lifecycle: z.object({ preStop: z.object({ exec: z.object({ command: z.array(z.string()) }) }) }).optional(),
});
const Deployment = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  spec: z.object({
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()) }), spec: z.object({ containers: z.array(Container).min(1) }) }),
  }),
});
const Service = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  spec: z.object({ selector: z.record(z.string(), z.string()), ports: z.array(z.object({ targetPort: z.union([z.string(), z.number()]) })).min(1) }),
});

const docs: unknown[] = parseAllDocuments(readFileSync(path.join(REPO_ROOT, 'examples/k8s/ws-echo.yaml'), 'utf8')).map((d) => {
  if (d.errors.length > 0) throw new Error(`examples/k8s/ws-echo.yaml: ${d.errors.map((e) => e.message).join('; ')}`);
  return d.toJS() as unknown;
});
const rawDeployment = docs.find((d) => Deployment.safeParse(d).success);
const deployment = Deployment.parse(rawDeployment);
const service = Service.parse(docs.find((d) => Service.safeParse(d).success));

describe('examples/k8s/ws-echo.yaml', () => {
  it('is an apps/v1 Deployment whose selector matches its template, and a Service targeting port "ws"', () => {
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.spec.containers[0]?.ports).toContainEqual({ name: 'ws', containerPort: 8080, protocol: 'TCP' });
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports[0]?.targetPort).toBe('ws');
  });

  it('is injected by ws-drain with a SIGUSR1 drain on port 8080, matching the server flags', () => {
    const result = decideWorkload(rawDeployment, DEFAULT_CONFIG);
    expect(result.kind).toBe('decided');
    if (result.kind !== 'decided') return;
    expect(result.decision.kind).toBe('mutate');
    if (result.decision.kind !== 'mutate') return;
    expect(result.decision.plan.signal).toBe('SIGUSR1');
    expect(result.decision.plan.sessionP95Seconds).toBe(120);
    expect(result.decision.plan.containers).toEqual([{ name: 'ws-echo', role: 'app', ports: [8080], why: 'serves session ports' }]);

    const container = Deployment.parse(result.doc).spec.template.spec.containers[0];
    const command = container?.lifecycle?.preStop.exec.command ?? [];
    expect(command[0]).toBe(HELPER_BINARY);
    expect(command).toContain('--signal=SIGUSR1');
    const args = container?.args ?? [];
    expect(args[args.indexOf('--drain-signal') + 1]).toBe('SIGUSR1');
  });
});
