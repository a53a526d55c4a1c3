// How serve reaches the API server: its address, and for each request the
// TLS settings and credentials (connect.ts picks the source).
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeConnection {
  /** The API server's URL, for logs and errors. */
  readonly server: string;
  /**
   * The URL and request options (TLS, credentials) of one request to
   * `pathAndQuery`. Credentials are read anew for each request: tokens rotate.
   */
  requestFor(pathAndQuery: string): Promise<{ url: URL; options: RequestOptions }>;
}

/** `pathAndQuery` under the server's URL, keeping a path prefix (an API server behind a proxy at https://host/k8s/). */
export function apiUrl(server: string, pathAndQuery: string): URL {
  const base = new URL(server);
  const url = new URL(pathAndQuery, base);
  url.pathname = base.pathname.replace(/\/+$/, '') + url.pathname;
  return url;
}

/**
 * Loads `file` into `kc`, or without one what kubectl would read ($KUBECONFIG,
 * ~/.kube/config, the pod's service account); the error names the file.
 * `kc` is handed in so that callers decide when client-node is imported.
 */
export function loadKubeConfigInto(kc: KubeConfig, file: string | undefined): KubeConfig {
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load the kubeconfig${file ? ` ${file}` : ''}: ${(err as Error).message}`);
  }
  return kc;
}

/** Requests as the kubeconfig's current context says, through client-node's own option builder. */
export function kubeConfigConnection(kc: KubeConfig): KubeConnection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current context or cluster');
  const server = cluster.server;
  return {
    server,
    async requestFor(pathAndQuery) {
      const options: RequestOptions = { headers: {} };
      // Sets ca/cert/key, the Authorization header (running an exec plugin if
      // its token expired) and an agent (a proxy's, if the cluster has one).
      await kc.applyToHTTPSOptions(options);
      return { url: apiUrl(server, pathAndQuery), options };
    },
  };
}
