import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { generateDevCerts } from '../../../src/certs/dev-certs.js';
import { ensureBinaries, type ControlPlaneBinaries } from './binaries.js';
import { forgetOnExit, ManagedProcess, removeOnExit } from './process.js';

export interface ControlPlaneOptions {
  /** Directory for data, certs and logs; a fresh temp dir (removed on stop) when absent. */
  workDir?: string;
  /** Fixed apiserver port (dev-cluster); a free one when absent. */
  apiserverPort?: number;
  /** Give up waiting for /readyz after this long. */
  readyTimeoutMs?: number;
  /** More kube-apiserver flags; one with the same `--name=` replaces the default (test/node). */
  apiserverArgs?: string[];
  /** More identities for the token file, as `token,user,uid,"group1,group2"` lines (kubelet, controllers). */
  extraTokens?: string[];
  /** More SANs for the apiserver's serving certificate. */
  servingHosts?: string[];
}

/** Files other components of a cluster need (test/node: controller-manager, kubelet). */
export interface ControlPlanePki {
  /** CA that signed the apiserver's serving certificate. */
  caCert: string;
  /** Service-account token signing key (controller-manager) and its public half. */
  saKey: string;
  saPub: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Warning headers (RFC 7234 `299 - "text"`), unquoted. */
  warnings: string[];
}

export interface ControlPlane {
  url: string;
  caPem: string;
  token: string;
  binaries: ControlPlaneBinaries;
  workDir: string;
  pki: ControlPlanePki;
  /** A KubeConfig for @kubernetes/client-node, built in memory (admin, system:masters; or another token's). */
  kubeConfig(as?: { user: string; token: string }): KubeConfig;
  /** The same identity as a kubeconfig file's YAML, for kubectl; or another token's (a kubelet's). */
  kubeconfigYaml(as?: { user: string; token: string }): string;
  /** Raw HTTPS call as admin; used where client-node hides things (Warning headers, /metrics). */
  request(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  /** Exit status and log tails of etcd and kube-apiserver. */
  describe(): string;
  /** Stops the kube-apiserver process (etcd keeps running); clients see connection errors until startApiserver(). */
  stopApiserver(): Promise<void>;
  /** Starts a new kube-apiserver process with the same flags, port and data; resolves once /readyz answers 200. */
  startApiserver(): Promise<void>;
  stop(): Promise<void>;
}

const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function httpGetOk(url: string): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = httpGet(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolveOk(res.statusCode === 200);
    });
    req.once('error', () => resolveOk(false));
    req.once('timeout', () => req.destroy());
  });
}

function parseWarnings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  // One header may carry several comma-separated warnings: 299 - "a", 299 - "b"
  const out: string[] = [];
  for (const value of values) {
    for (const m of value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) {
      out.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
    }
  }
  return out;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  failedEarly: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const early = failedEarly();
    if (early !== undefined) throw new Error(`${what}: ${early}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts etcd and kube-apiserver on loopback (free ports, temp data dir) and
 * resolves once /readyz answers 200. On any failure both are stopped and the
 * error carries their log tails, so a broken control plane fails the suite
 * loudly instead of skipping it.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(opts);
    } catch (err) {
      // Free ports are found by binding :0 and closing it; another process can
      // take one in between. That, and only that, is worth another try.
      const retryable = opts.apiserverPort === undefined && /address already in use/.test((err as Error).message);
      if (attempt >= 3 || !retryable) throw err;
      process.stderr.write(`[controlplane] port taken while starting (attempt ${attempt}); retrying with new ports\n`);
    }
  }
}

async function startControlPlaneOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const binaries = await ensureBinaries();
  const ownsWorkDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ws-drain-cp-')));
  if (ownsWorkDir) removeOnExit(workDir);
  await mkdir(join(workDir, 'pki'), { recursive: true });
  const etcdData = join(workDir, 'etcd-data');
  await rm(etcdData, { recursive: true, force: true });

  const [etcdClientPort, etcdPeerPort, apiserverPort] = [
    await freePort(),
    await freePort(),
    opts.apiserverPort ?? (await freePort()),
  ];
  const url = `https://127.0.0.1:${apiserverPort}`;

  const serving = await generateDevCerts({ hosts: ['localhost', '127.0.0.1', ...(opts.servingHosts ?? [])], commonName: 'kube-apiserver' });
  const sa = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const token = randomBytes(24).toString('hex');
  const pki = {
    tlsCert: join(workDir, 'pki/apiserver.crt'),
    tlsKey: join(workDir, 'pki/apiserver.key'),
    saKey: join(workDir, 'pki/sa.key'),
    saPub: join(workDir, 'pki/sa.pub'),
    tokens: join(workDir, 'pki/tokens.csv'),
    caCert: join(workDir, 'pki/ca.crt'),
  };
  await writeFile(pki.caCert, serving.caCert);
  await writeFile(pki.tlsCert, serving.tlsCert + serving.caCert);
  await writeFile(pki.tlsKey, serving.tlsKey, { mode: 0o600 });
  await writeFile(pki.saKey, sa.privateKey, { mode: 0o600 });
  await writeFile(pki.saPub, sa.publicKey);
  // token,user,uid,"groups": the only identity; system:masters bypasses RBAC.
  await writeFile(pki.tokens, [`${token},ws-drain-admin,ws-drain-admin,"system:masters"`, ...(opts.extraTokens ?? [])].join('\n') + '\n', {
    mode: 0o600,
  });

  const etcd = new ManagedProcess(
    'etcd',
    binaries.etcd,
    [
      '--name=ws-drain-e2e',
      `--data-dir=${etcdData}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=ws-drain-e2e=http://127.0.0.1:${etcdPeerPort}`,
      // Throw-away data: skipping fsync keeps 500-pod bursts off the disk's critical path.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { logPath: join(workDir, 'etcd.log') },
  );
  let apiserver: ManagedProcess | undefined;
  const apiserverArgs = withOverrides([
    `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiserverPort}`,
    `--cert-dir=${join(workDir, 'pki')}`,
    `--tls-cert-file=${pki.tlsCert}`,
    `--tls-private-key-file=${pki.tlsKey}`,
    `--token-auth-file=${pki.tokens}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,PodSecurity,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota',
    // No controller-manager runs, so nothing would create the default
    // ServiceAccount that this plugin insists on.
    '--disable-admission-plugins=ServiceAccount',
    '--profiling=false',
    '--v=1',
  ], opts.apiserverArgs ?? []);
  // One process after another on the same port and etcd data (startApiserver/stopApiserver).
  const startApiserver = async (): Promise<void> => {
    const started = Date.now();
    apiserver = new ManagedProcess('kube-apiserver', binaries.kubeApiserver, apiserverArgs, {
      logPath: join(workDir, 'kube-apiserver.log'),
      tailLines: 120,
    });
    const readyz = async (): Promise<boolean> => {
      try {
        return (await rawRequest(url, serving.caCert, token, 'GET', '/readyz')).status === 200;
      } catch {
        return false;
      }
    };
    await waitFor('kube-apiserver /readyz', readyz, opts.readyTimeoutMs ?? 120_000, () => {
      if (apiserver?.exit) return 'kube-apiserver exited before /readyz answered 200';
      if (etcd.exit) return 'etcd exited while kube-apiserver was starting';
      return undefined;
    });
    process.stderr.write(`[controlplane] kube-apiserver ready at ${url} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  };
  const describe = (): string => [etcd.describe(), apiserver?.describe() ?? '--- kube-apiserver: not started'].join('\n');
  const stop = async (): Promise<void> => {
    await apiserver?.stop();
    await etcd.stop();
    if (ownsWorkDir) {
      await rm(workDir, { recursive: true, force: true });
      forgetOnExit(workDir);
    }
  };

  try {
    await waitFor(
      'etcd',
      () => httpGetOk(`http://127.0.0.1:${etcdClientPort}/health`),
      opts.readyTimeoutMs ?? 60_000,
      () => (etcd.exit ? 'exited before becoming healthy' : undefined),
    );
    await startApiserver();
  } catch (err) {
    const message = `control plane failed to start: ${(err as Error).message}\n${describe()}`;
    await stop();
    throw new Error(message);
  }

  const kubeconfigYaml = (as = { user: 'ws-drain-admin', token }): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: ws-drain-e2e',
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority-data: ${Buffer.from(serving.caCert).toString('base64')}`,
      'users:',
      `- name: ${as.user}`,
      '  user:',
      `    token: ${as.token}`,
      'contexts:',
      '- name: ws-drain-e2e',
      '  context:',
      '    cluster: ws-drain-e2e',
      `    user: ${as.user}`,
      '    namespace: default',
      'current-context: ws-drain-e2e',
      '',
    ].join('\n');

  return {
    url,
    caPem: serving.caCert,
    token,
    binaries,
    workDir,
    pki: { caCert: pki.caCert, saKey: pki.saKey, saPub: pki.saPub },
    kubeConfig(as = { user: 'ws-drain-admin', token }) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'ws-drain-e2e', server: url, caData: Buffer.from(serving.caCert).toString('base64'), skipTLSVerify: false }],
        users: [{ name: as.user, token: as.token }],
        contexts: [{ name: 'ws-drain-e2e', cluster: 'ws-drain-e2e', user: as.user, namespace: 'default' }],
        currentContext: 'ws-drain-e2e',
      });
      return kc;
    },
    kubeconfigYaml,
    request: (method, path, body) => rawRequest(url, serving.caCert, token, method, path, body),
    describe,
    stopApiserver: async () => {
      await apiserver?.stop();
    },
    startApiserver,
    stop,
  };
}

/** `defaults` with each `--name[=value]` in `overrides` replacing the default of that name, or appended. */
export function withOverrides(defaults: string[], overrides: string[]): string[] {
  const name = (flag: string): string => flag.split('=', 1)[0]!;
  const replaced = new Set(overrides.map(name));
  return [...defaults.filter((f) => !replaced.has(name(f))), ...overrides];
}

function rawRequest(
  base: string,
  caPem: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse> {
  return new Promise((resolveResponse, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      new URL(path, base),
      {
        method,
        ca: caPem,
        timeout: 30_000,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json, */*',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () =>
          resolveResponse({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            warnings: parseWarnings(res.headers.warning),
          }),
        );
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${path}: no response within 30s`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
