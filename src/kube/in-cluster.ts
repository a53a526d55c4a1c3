// The API server as a pod sees it: the address from the kubernetes Service's
// environment variables, the CA and the bearer token from the service account
// mount. Both files are read again for every request: the kubelet rewrites
// the token (a bound token, about an hour by default) well before it expires,
// and the CA bundle (kube-root-ca.crt) when the cluster's CA rotates. Requests
// are a few per watch period, so the reads cost nothing measurable.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { apiUrl, type KubeConnection } from './connection.js';

/** Where the kubelet mounts the service account's token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A token file is a JWT of a few KiB; anything far larger is not one. */
const MAX_TOKEN_BYTES = 64 * 1024;

export interface InClusterOptions {
  env: NodeJS.ProcessEnv;
  dir: string;
}

/** Throws when this is not a pod (no KUBERNETES_SERVICE_HOST/PORT): the caller says what else was looked for. */
export function inClusterConnection({ env, dir }: InClusterOptions): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '';
  if (host === '' || port === '') {
    throw new Error(`no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset)`);
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new Error(`KUBERNETES_SERVICE_PORT=${JSON.stringify(port)} is not a port`);
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const tokenFile = join(dir, 'token');
  const caFile = join(dir, 'ca.crt');
  // At start, not at the first request: a pod without the token mounted never becomes ready, and should say why.
  for (const file of [tokenFile, caFile]) {
    if (!existsSync(file)) throw new Error(`in a pod, but no service account ${file} (automountServiceAccountToken: false, and no projected token at that path?)`);
  }
  return {
    server,
    async requestFor(pathAndQuery) {
      const [token, ca] = await Promise.all([readToken(tokenFile), readFile(caFile)]);
      return {
        url: apiUrl(server, pathAndQuery),
        // agent: false, a connection per request: a watch holds it for minutes anyway, and nothing pools the old CA.
        options: { ca, agent: false, headers: { authorization: `Bearer ${token}` } },
      };
    },
  };
}

async function readToken(file: string): Promise<string> {
  const text = (await readFile(file)).toString('utf8');
  if (text.length > MAX_TOKEN_BYTES) throw new Error(`${file}: ${text.length} bytes is not a service account token`);
  const token = text.trim();
  if (token === '' || /\s/.test(token)) throw new Error(`${file}: not a bearer token (empty, or more than one word)`);
  return token;
}
