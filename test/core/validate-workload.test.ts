// Templates judged at apply time by the same decision as their pods.
import { describe, expect, it } from 'vitest';
import { decideWorkload } from '../../src/core/workloads.js';
import { validateWorkload } from '../../src/core/validate-workload.js';
import { CONFIG, container, tcp, type Json } from './pod-builders.js';

const deployment = (templateAnnotations: Record<string, string>, extra: Json = {}): Json => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'chat', namespace: 'shop' },
  spec: {
    replicas: 2,
    template: { metadata: { labels: { app: 'chat' }, annotations: templateAnnotations }, spec: { containers: [container('chat', { ports: [tcp(8080)] })] } },
    ...extra,
  },
});

describe('validateWorkload', () => {
  it('denies with exactly the message the pods would get', () => {
    const doc = deployment({ 'ws-drain/session-p95': '5 minutes' });
    const pods = decideWorkload(doc, CONFIG);
    const v = validateWorkload(doc, undefined, 'shop', CONFIG);
    expect(pods.kind === 'decided' && pods.decision.kind).toBe('deny');
    expect(v).toEqual({ allowed: false, code: 422, message: pods.kind === 'decided' && pods.decision.kind === 'deny' ? pods.decision.message : '' });
  });

  it('allows a good template with the warnings its pods would get', () => {
    const v = validateWorkload(deployment({ 'ws-drain/session-p95': '1m' }), undefined, 'shop', CONFIG);
    expect(v).toEqual({ allowed: true, warnings: ['ws-drain: terminationGracePeriodSeconds raised from 30 to 117 for the drain plan'], reason: 'would-inject' });
  });

  it('uses the request namespace: an excluded namespace is never judged', () => {
    const v = validateWorkload(deployment({ 'ws-drain/sesion-p95': '1m' }), undefined, 'kube-system', CONFIG);
    expect(v.allowed).toBe(true);
  });

  it('an UPDATE that keeps a bad template is allowed with the denial as a warning', () => {
    const old = deployment({ 'ws-drain/sesion-p95': '1m' });
    const scaled = { ...old, metadata: { name: 'chat', namespace: 'shop', labels: { team: 'a' } }, spec: { ...(old['spec'] as Json), replicas: 5 } };
    const v = validateWorkload(scaled, old, 'shop', CONFIG);
    expect(v.allowed).toBe(true);
    expect(v.allowed && v.warnings[0]).toMatch(/^ws-drain: pod template unchanged, but its pods would be denied: unknown annotation/);
  });

  it('an UPDATE that changes the template is judged like a CREATE', () => {
    const old = deployment({ 'ws-drain/sesion-p95': '1m' });
    expect(validateWorkload(deployment({ 'ws-drain/sesion-p95': '2m' }), old, 'shop', CONFIG)).toMatchObject({ allowed: false, code: 422 });
    expect(validateWorkload(deployment({ 'ws-drain/session-p95': '2m' }), old, 'shop', CONFIG)).toMatchObject({ allowed: true });
  });

  it('warns for annotations on the workload itself', () => {
    const doc = { ...deployment({}), metadata: { name: 'chat', annotations: { 'ws-drain/session-p95': '5m' } } };
    expect(validateWorkload(doc, undefined, 'shop', CONFIG)).toEqual({
      allowed: true,
      warnings: ['ws-drain: ws-drain/session-p95 on the Deployment itself is not read: move it to spec.template.metadata.annotations'],
      reason: 'not-opted-in',
    });
  });

  it('anything that is not a workload is allowed without a word', () => {
    expect(validateWorkload({ apiVersion: 'v1', kind: 'ConfigMap' }, undefined, 'shop', CONFIG)).toEqual({ allowed: true, warnings: [], reason: 'not-a-workload' });
    expect(validateWorkload('junk', undefined, 'shop', CONFIG)).toEqual({ allowed: true, warnings: [], reason: 'not-a-workload' });
  });
});
