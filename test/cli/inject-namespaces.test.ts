// `ws-drain inject` applies namespace opt-in and defaults as the webhook does:
// from Namespace documents in the input, or from what --namespaces-from-cluster
// read (handed to injectYaml as data; the GET itself is covered in test/e2e/namespaces.test.ts).
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { injectYaml, namespacesUsed } from '../../src/cli/inject-command.js';

const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: chat
  labels: { ws-drain.io/inject: enabled }
  annotations: { ws-drain/prestop-delay: 45s }
`;
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: chat }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: registry.example/web:1, ports: [{ containerPort: 8080 }] }] }
`;

function templatePlan(output: string): Record<string, unknown> | undefined {
  const docs = parseAllDocuments(output).map((d) => d.toJS() as { kind: string; spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } });
  const text = docs.find((d) => d.kind === 'Deployment')?.spec?.template?.metadata?.annotations?.['ws-drain/plan'];
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

describe('inject with namespaces', () => {
  it('a Namespace document in the input opts the Deployment in and gives its defaults', () => {
    const r = injectYaml(`${NAMESPACE}---\n${DEPLOYMENT}`, DEFAULT_CONFIG);
    expect(r.denials).toEqual([]);
    expect(templatePlan(r.output)).toMatchObject({ prestopDelaySeconds: 45, from: { enabled: 'namespace', 'prestop-delay': 'namespace' } });
  });

  it('without the Namespace the same Deployment is left alone', () => {
    const r = injectYaml(DEPLOYMENT, DEFAULT_CONFIG);
    expect(r.output).toBe(DEPLOYMENT);
  });

  it('namespaces read from the cluster apply; a Namespace document in the input wins over them', () => {
    const cluster = new Map([['chat', { name: 'chat', labels: { 'ws-drain.io/inject': 'enabled' }, annotations: { 'ws-drain/prestop-delay': '5s' } }]]);
    expect(templatePlan(injectYaml(DEPLOYMENT, DEFAULT_CONFIG, cluster).output)).toMatchObject({ prestopDelaySeconds: 5 });
    expect(templatePlan(injectYaml(`${NAMESPACE}---\n${DEPLOYMENT}`, DEFAULT_CONFIG, cluster).output)).toMatchObject({ prestopDelaySeconds: 45 });
  });

  it('a Namespace with a value its pods would ignore is denied, as /validate denies it', () => {
    const bad = NAMESPACE.replace('45s', '45 seconds');
    const r = injectYaml(`${bad}---\n${DEPLOYMENT}`, DEFAULT_CONFIG);
    expect(r.denials).toEqual([expect.stringMatching(/^document 1 \(Namespace\/chat\): namespace chat: ws-drain\/prestop-delay: "45 seconds" is not a duration/)]);
    expect(r.warnings).toContainEqual(expect.stringMatching(/^document 2 \(Deployment\/web\): ws-drain: namespace chat: ignored ws-drain\/prestop-delay: "45 seconds" is not a duration/));
  });

  it('namespacesUsed lists the namespaces of the documents (default when unset)', () => {
    expect(namespacesUsed(`${DEPLOYMENT}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n`)).toEqual(['chat', 'default']);
  });
});
