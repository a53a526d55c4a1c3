// AdmissionReview requests as the API server sends them, for server tests and the bench.
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import pino from 'pino';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import type { WebhookOptions } from '../../src/server/serve.js';

export interface ReviewOptions {
  uid?: string;
  namespace?: string;
  operation?: string;
  resource?: { group: string; version: string; resource: string };
  kind?: { group: string; version: string; kind: string };
  subResource?: string;
  dryRun?: boolean;
  object?: unknown;
}

const POD_RESOURCE = { group: '', version: 'v1', resource: 'pods' };
const POD_KIND = { group: '', version: 'v1', kind: 'Pod' };

/** An opted-in pod with three containers, as a Deployment's ReplicaSet would create it. */
export function optedInPod(annotations: Record<string, string> = { 'ws-drain/session-p95': '2m' }): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'chat-7d9f8b6c4-',
      namespace: 'apps',
      labels: { app: 'chat', 'pod-template-hash': '7d9f8b6c4' },
      annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'chat-7d9f8b6c4', uid: '6f1c2a8e-1111-4222-8333-944455556666', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      terminationGracePeriodSeconds: 30,
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      containers: [
        {
          name: 'chat',
          image: 'registry.example.com/chat:1.4.2',
          ports: [{ name: 'ws', containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
        },
        {
          name: 'metrics-sidecar',
          image: 'registry.example.com/exporter:0.9',
          ports: [{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }],
        },
        {
          name: 'envoy',
          image: 'envoyproxy/envoy:v1.31.0',
          ports: [{ name: 'proxy', containerPort: 10000, protocol: 'TCP' }],
          lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'curl -s -XPOST 127.0.0.1:9901/healthcheck/fail'] } } },
        },
      ],
    },
  };
}

export function admissionReview(opts: ReviewOptions = {}): Record<string, unknown> {
  const request: Record<string, unknown> = {
    uid: opts.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: opts.kind ?? POD_KIND,
    resource: opts.resource ?? POD_RESOURCE,
    requestKind: opts.kind ?? POD_KIND,
    requestResource: opts.resource ?? POD_RESOURCE,
    namespace: opts.namespace ?? 'apps',
    operation: opts.operation ?? 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    object: opts.object ?? optedInPod(),
    oldObject: null,
    dryRun: opts.dryRun ?? false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  };
  if (opts.subResource !== undefined) request['subResource'] = opts.subResource;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

/** A pino logger whose JSON lines land in an array, so tests can read what was logged. */
export function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink: Pick<Writable, 'write'> = {
    write(chunk: string | Uint8Array): boolean {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      return true;
    },
  };
  return { logger: pino({ level: 'info' }, sink as pino.DestinationStream), lines };
}

/** startWebhook options for a local run on loopback, any free ports, certificates from `certDir`. */
export function localWebhookOptions(certDir: string, extra: Partial<WebhookOptions> = {}): WebhookOptions {
  return {
    config: DEFAULT_CONFIG,
    tlsCertFile: join(certDir, 'tls.crt'),
    tlsKeyFile: join(certDir, 'tls.key'),
    port: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    tlsReloadIntervalMs: 60_000,
    ...extra,
  };
}

/** GET /metrics of a webhook's (or a cluster primary's) metrics port, as text. */
export function getMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}
