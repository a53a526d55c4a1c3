// Which API server serve reads namespaces from, in kubectl's order of
// precedence: a kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config:
// development and tests outside a cluster), else the pod's service account
// (in-cluster.ts).
//
// A kubeconfig is read by @kubernetes/client-node, imported only then: exec
// plugins, client certificates, auth providers and proxies are its job, and it
// is the loader `ws-drain check` uses too. In a pod nothing imports it: its
// config module loads the whole generated API client (6.3 MB), +35-41 MiB RSS
// and +65-80 ms to the first answer (docs/performance.md).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kubeConfigConnection, loadKubeConfigInto, type KubeConnection } from './connection.js';
import { inClusterConnection, SERVICE_ACCOUNT_DIR } from './in-cluster.js';

export interface ConnectOptions {
  /** --kubeconfig. */
  kubeconfig?: string | undefined;
  /** The service account mount (tests point it at a directory of their own). */
  serviceAccountDir?: string;
}

/**
 * --kubeconfig, else $KUBECONFIG, ~/.kube/config (as client-node's
 * loadFromDefault reads them), else the pod's service account. Throws with
 * what was looked for when there is none.
 */
export async function connectToCluster(opts: ConnectOptions = {}): Promise<KubeConnection> {
  // process.env, not a parameter: client-node's loadFromDefault reads $KUBECONFIG and $HOME there itself.
  const env = process.env;
  const home = env['HOME'];
  const useKubeconfig = opts.kubeconfig !== undefined || (env['KUBECONFIG'] ?? '') !== '' || (home !== undefined && home !== '' && existsSync(join(home, '.kube', 'config')));
  if (!useKubeconfig) return inClusterConnection({ env, dir: opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR });
  const { KubeConfig } = await import('@kubernetes/client-node');
  return kubeConfigConnection(loadKubeConfigInto(new KubeConfig(), opts.kubeconfig));
}
