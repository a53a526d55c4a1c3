// Connects to the webhook the way the API server does — the same host name for
// SNI and verification, the configuration's caBundle as the only trust — and
// records what it saw. The verdict itself is read by install-rules.ts.
import { checkServerIdentity, connect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { EndpointSlice, Service, WebhookEntry } from './objects.js';
import type { ServedCertificate, WebhookProbe } from './snapshot.js';

export const PROBE_TIMEOUT_MS = 3_000;

interface Handshake {
  authorized: boolean;
  authorizationError?: string;
  served?: ServedCertificate;
}

/** One TLS handshake; never rejects on certificate problems (they are the result), only on connection failure. */
export function handshake(host: string, port: number, serverName: string, caPem: string | undefined, timeoutMs = PROBE_TIMEOUT_MS): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | undefined = undefined;
    const timer = setTimeout(() => {
      socket?.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket = connect({
      host,
      port,
      ...(isIP(serverName) ? {} : { servername: serverName }),
      // Node checks the chain against `ca` and the name against serverName, and
      // reports (rather than refuses) a failure when rejectUnauthorized is false.
      ...(caPem ? { ca: caPem } : {}),
      rejectUnauthorized: false,
      // Verify the name the API server would use, not the address dialled.
      checkServerIdentity: (_host, cert) => checkServerIdentity(serverName, cert),
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const s = socket!;
      const cert = s.getPeerX509Certificate();
      const result: Handshake = {
        authorized: s.authorized,
        ...(s.authorizationError ? { authorizationError: String(s.authorizationError) } : {}),
        ...(cert
          ? {
              served: {
                subject: cert.subject.replace(/\n/g, ', '),
                issuer: cert.issuer.replace(/\n/g, ', '),
                validFrom: new Date(cert.validFrom).toISOString(),
                validTo: new Date(cert.validTo).toISOString(),
              },
            }
          : {}),
      };
      s.end();
      s.destroy();
      resolve(result);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Reads an HTTPS URL through the API server (the fetch layer's GET). */
export type ProxyGet = (path: string) => Promise<{ status: number }>;

export interface ProbeInput {
  configName: string;
  webhook: WebhookEntry;
  service?: Service;
  endpointSlices: EndpointSlice[];
  proxyGet: ProxyGet;
}

function caPemOf(webhook: WebhookEntry): string | undefined {
  const b = webhook.clientConfig.caBundle;
  return b ? Buffer.from(b, 'base64').toString('utf8') : undefined;
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

export async function probeWebhook(input: ProbeInput): Promise<WebhookProbe> {
  const { webhook, configName } = input;
  const ca = caPemOf(webhook);
  const base = { configName, webhookName: webhook.name };
  const url = webhook.clientConfig.url;
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { ...base, method: 'none', serverName: url, errors: [`clientConfig.url ${JSON.stringify(url)} is not a URL`] };
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const port = Number(parsed.port || 443);
    return direct(base, [{ host, port }], host, ca);
  }
  const ref = webhook.clientConfig.service;
  if (!ref) return { ...base, method: 'none', serverName: '', errors: ['clientConfig has neither url nor service'] };
  const serverName = `${ref.name}.${ref.namespace}.svc`;
  const port = ref.port ?? 443;
  const targets: Array<{ host: string; port: number }> = [];
  const svcPort = input.service?.spec.ports?.find((p) => p.port === port);
  for (const slice of input.endpointSlices) {
    const slicePort = slice.ports?.find((p) => (p.name ?? '') === (svcPort?.name ?? ''))?.port ?? (typeof svcPort?.targetPort === 'number' ? svcPort.targetPort : undefined);
    if (slicePort === undefined || slicePort === null) continue;
    for (const e of slice.endpoints ?? []) if (e.conditions?.ready !== false) for (const a of e.addresses) targets.push({ host: a, port: slicePort });
  }
  // A cluster IP without ready endpoints answers nothing (kube-proxy rejects it): dial it only when there are some.
  const clusterIP = input.service?.spec.clusterIP;
  if (targets.length > 0 && clusterIP && clusterIP !== 'None') targets.push({ host: clusterIP, port });
  const attempt = await direct(base, targets.slice(0, 4), serverName, ca);
  if (targets.length === 0) attempt.errors.push(input.service ? 'the Service has no ready endpoint addresses' : 'the Service does not exist');
  if (attempt.method === 'direct') return attempt;
  // Not reachable from here (outside the cluster): ask the API server to proxy a GET.
  const proxyPath = `/api/v1/namespaces/${ref.namespace}/services/https:${ref.name}:${port}/proxy/readyz`;
  try {
    const r = await input.proxyGet(proxyPath);
    return { ...base, method: 'service-proxy', target: proxyPath, serverName, errors: attempt.errors, proxyStatus: r.status };
  } catch (err) {
    return { ...base, method: 'none', serverName, errors: [...attempt.errors, `service proxy: ${describeError(err)}`] };
  }
}

async function direct(
  base: { configName: string; webhookName: string },
  targets: Array<{ host: string; port: number }>,
  serverName: string,
  ca: string | undefined,
): Promise<WebhookProbe> {
  const errors: string[] = [];
  for (const t of targets) {
    const target = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
    try {
      const h = await handshake(t.host, t.port, serverName, ca);
      return {
        ...base,
        method: 'direct',
        target,
        serverName,
        errors,
        ...(ca ? { verified: h.authorized } : {}),
        ...(h.authorizationError ? { verifyError: h.authorizationError } : {}),
        ...(h.served ? { served: h.served } : {}),
      };
    } catch (err) {
      errors.push(`${target}: ${describeError(err)}`);
    }
  }
  return { ...base, method: 'none', serverName, errors };
}
