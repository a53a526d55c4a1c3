// The webhook probe against a real TLS server on loopback: the caBundle and
// the name decide, exactly as for the API server.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts, type DevCertPems } from '../../src/certs/dev-certs.js';
import { probeWebhook } from '../../src/check/probe.js';

let server: Server;
let port = 0;
let certs: DevCertPems;
let otherCa: string;

beforeAll(async () => {
  certs = await generateDevCerts({ hosts: ['127.0.0.1', 'ws-drain-webhook.ws-drain-system.svc'], days: 10 });
  otherCa = (await generateDevCerts({ hosts: ['127.0.0.1'] })).caCert;
  server = createServer({ cert: certs.tlsCert, key: certs.tlsKey }, (_req, res) => res.end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const b64 = (pem: string) => Buffer.from(pem).toString('base64');
const noProxy = async () => {
  throw new Error('no proxy in this test');
};

describe('probeWebhook', () => {
  it('verifies the served certificate with the caBundle of a url webhook and reads its expiry', async () => {
    const p = await probeWebhook({ configName: 'c', webhook: { name: 'inject.ws-drain.io', clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: b64(certs.caCert) } }, endpointSlices: [], proxyGet: noProxy });
    expect(p).toMatchObject({ method: 'direct', target: `127.0.0.1:${port}`, serverName: '127.0.0.1', verified: true });
    const days = (new Date(p.served!.validTo).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(9);
    expect(days).toBeLessThan(11);
  });

  it('reports a caBundle of another CA as not verified, with the TLS reason', async () => {
    const p = await probeWebhook({ configName: 'c', webhook: { name: 'w.ws-drain.io', clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: b64(otherCa) } }, endpointSlices: [], proxyGet: noProxy });
    expect(p.method).toBe('direct');
    expect(p.verified).toBe(false);
    expect(p.verifyError).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|unable to verify/i);
  });

  it('verifies the Service DNS name while dialling an endpoint address', async () => {
    const webhook = { name: 'w.ws-drain.io', clientConfig: { service: { name: 'ws-drain-webhook', namespace: 'ws-drain-system', port: 443 }, caBundle: b64(certs.caCert) } };
    const slice = { metadata: { name: 's', namespace: 'ws-drain-system' }, ports: [{ name: 'https', port }], endpoints: [{ addresses: ['127.0.0.1'] }] };
    const service = { metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' }, spec: { ports: [{ name: 'https', port: 443, targetPort: 'https' }] } };
    const ok = await probeWebhook({ configName: 'c', webhook, service, endpointSlices: [slice], proxyGet: noProxy });
    expect(ok).toMatchObject({ method: 'direct', serverName: 'ws-drain-webhook.ws-drain-system.svc', verified: true });
    const wrongName = { ...webhook, clientConfig: { ...webhook.clientConfig, service: { ...webhook.clientConfig.service, name: 'other' } } };
    const bad = await probeWebhook({ configName: 'c', webhook: wrongName, service, endpointSlices: [slice], proxyGet: noProxy });
    expect(bad.verified).toBe(false);
    expect(bad.verifyError).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
  });

  it('falls back to the service proxy when no address answers, and to none when that fails too', async () => {
    const webhook = { name: 'w.ws-drain.io', clientConfig: { service: { name: 'ws-drain-webhook', namespace: 'ws-drain-system', port: 443 }, caBundle: b64(certs.caCert) } };
    const closed = { metadata: { name: 's', namespace: 'ws-drain-system' }, ports: [{ name: '', port: 1 }], endpoints: [{ addresses: ['127.0.0.1'] }] };
    const viaProxy = await probeWebhook({ configName: 'c', webhook, endpointSlices: [closed], proxyGet: async () => ({ status: 200 }) });
    expect(viaProxy).toMatchObject({ method: 'service-proxy', proxyStatus: 200, target: '/api/v1/namespaces/ws-drain-system/services/https:ws-drain-webhook:443/proxy/readyz' });
    expect(viaProxy.errors.join()).toContain('127.0.0.1:1: ECONNREFUSED');
    const none = await probeWebhook({ configName: 'c', webhook, endpointSlices: [closed], proxyGet: noProxy });
    expect(none.method).toBe('none');
  });
});
