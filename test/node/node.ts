// A real one-node Kubernetes cluster on this machine, for the real-node suite,
// the drain benchmark's real-node mode and `npm run dev:cluster --node`:
// etcd, kube-apiserver (test/e2e/controlplane), kube-controller-manager,
// kube-scheduler, containerd + runc + CNI bridge, kubelet, kube-proxy in
// iptables mode and a local image registry, with the images from
// tools/images/build.sh in it. Nothing is faked: pods are run by the kubelet.
//
// Binaries come from tools/k8s/build.sh --node and Debian packages; images and
// the registry's storage are cached under $WS_DRAIN_CACHE; all run state is in
// one folder (removed on stop). One node per machine, behind a lock; a crashed
// earlier run is cleaned up before starting (test/node/host.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBinaries, REPO_ROOT } from '../e2e/controlplane/binaries.js';
import { freePort, startControlPlane, type ControlPlane } from '../e2e/controlplane/controlplane.js';
import { ManagedProcess } from '../e2e/controlplane/process.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig, registryConfig, registryHostsToml, type NodePaths } from './configs.js';
import { hostBefore, LOCK_FILE, NODE, setUpCgroupRoot, setUpNodeAddress, snapshotHost, teardownHost } from './host.js';

const execFileAsync = promisify(execFile);

export interface NodeImages {
  pause: string;
  helper: string;
  webhook: string;
  wsEcho: string;
}

export interface RealNode {
  cp: ControlPlane;
  /** host:port of the local registry the kubelet pulls from. */
  registry: string;
  images: NodeImages;
  stateDir: string;
  /** kubeconfig file (admin) for kubectl. */
  kubeconfig: string;
  kubectlPath: string;
  /** Runs kubectl as admin; resolves stdout, rejects with stderr. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Host state recorded once the lock was held, before anything started: what the teardown must restore. */
  hostBefore: { sysctls: Record<string, string>; netns: string[] };
  /** Seconds each start phase took, for the benchmark and the docs. */
  timings: Record<string, number>;
  describe(): string;
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** Fixed apiserver port (dev-cluster); a free one when absent. */
  apiserverPort?: number;
  /** Wait this long for another run's node to be stopped (the lock). */
  lockTimeoutSeconds?: number;
}

function cacheRoot(): string {
  return process.env.WS_DRAIN_CACHE ?? join(REPO_ROOT, '.cache');
}

/** The state folder of the machine's one node (run state only; caches live beside it). */
export function nodeStateDir(): string {
  return join(cacheRoot(), 'node', 'state');
}

/** Holds the machine-wide node lock until release() or until this process dies (the pipe closes). */
async function acquireLock(timeoutSeconds: number): Promise<{ release(): void }> {
  const holder: ChildProcess = spawn('flock', ['-w', String(timeoutSeconds), LOCK_FILE, '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    holder.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    holder.stdout?.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`another real node holds ${LOCK_FILE} (waited ${timeoutSeconds}s, flock exit ${String(code)}) ${err}`)));
  });
  holder.unref();
  return {
    release() {
      holder.stdin?.end();
    },
  };
}

async function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<string> {
  const child = execFileAsync(cmd, args, {
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Streams a build script's progress to stderr; resolves its stdout. */
async function runScript(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(script, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      process.stderr.write(c);
      tail = (tail + c.toString()).slice(-6_000);
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} failed (exit ${String(code)}):\n${tail}`))));
  });
}

function parseImages(out: string): NodeImages {
  const refs = new Map(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  const need = (name: string): string => {
    const ref = refs.get(name);
    if (!ref) throw new Error(`tools/images/build.sh printed no ${name}= line:\n${out}`);
    return ref;
  };
  return { pause: need('pause'), helper: need('ws-drain-helper'), webhook: need('ws-drain-webhook'), wsEcho: need('ws-echo') };
}

/** A CA the kubelet trusts for client certificates, and the API server's client certificate from it. */
async function kubeletClientPki(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const p = { ca: join(dir, 'kubelet-client-ca.crt'), caKey: join(dir, 'kubelet-client-ca.key'), cert: join(dir, 'apiserver-kubelet-client.crt'), key: join(dir, 'apiserver-kubelet-client.key') };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p.caKey, '-out', p.ca, '-days', '7', '-subj', '/CN=ws-drain-node kubelet client CA']);
  const csr = join(dir, 'client.csr');
  await run('openssl', ['req', ...ec, '-keyout', p.key, '-out', csr, '-subj', '/O=system:masters/CN=kube-apiserver-kubelet-client']);
  const ext = join(dir, 'client.ext');
  await writeFile(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', p.ca, '-CAkey', p.caKey, '-CAcreateserial', '-out', p.cert, '-days', '7', '-extfile', ext]);
  return p;
}

/**
 * The address pods reach the API server at: kube-proxy sends the `kubernetes`
 * Service (its first ClusterIP) to the advertised address, the node IP, where
 * this forwards to the API server on loopback. The API server itself stays on
 * 127.0.0.1; only pods on the node's bridge (and this machine) can reach the
 * node IP. Without it the webhook's namespace informer could never list.
 */
async function forwardNodeIpToApiserver(port: number): Promise<{ close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, NODE.ip, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The first address of the Service range: the `kubernetes` Service's ClusterIP, which pods dial. */
export const KUBERNETES_SERVICE_IP = NODE.serviceCidr.replace(/\.0\/\d+$/, '.1');

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, failedEarly: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const early = failedEarly();
    if (early) throw new Error(`${what}: ${early}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startNode(opts: NodeOptions = {}): Promise<RealNode> {
  const timings: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string): void => {
    const now = Date.now();
    timings[name] = (now - phaseStart) / 1000;
    phaseStart = now;
    process.stderr.write(`[node] ${name}: ${timings[name]!.toFixed(1)}s\n`);
  };

  const binaries = await runScript(join(REPO_ROOT, 'tools/k8s/build.sh'), ['--node']).then((out) => out.trim().split('\n').pop() ?? '');
  await ensureBinaries(); // same directory; also checks etcd/kube-apiserver/kubectl
  phase('binaries');

  const lock = await acquireLock(opts.lockTimeoutSeconds ?? 900);
  const stateDir = nodeStateDir();
  // Whatever a crashed run left behind goes first.
  const stale = teardownHost(stateDir);
  if (stale.killed + stale.unmounted + stale.netns > 0) {
    process.stderr.write(`[node] cleaned up an earlier run: ${JSON.stringify(stale)}\n`);
  }
  phase('lock+cleanup');

  const paths: NodePaths = {
    state: stateDir,
    containerdSocket: join(stateDir, 'containerd/containerd.sock'),
    registryStorage: join(cacheRoot(), 'node', 'registry'),
  };
  const processes: ManagedProcess[] = [];
  let cp: ControlPlane | undefined;
  let apiForward: { close(): Promise<void> } | undefined;
  const describe = (): string => [cp?.describe() ?? '', ...processes.map((p) => p.describe())].join('\n');
  const stop = async (): Promise<void> => {
    const started = Date.now();
    // All at once: the teardown below kills what is left (pods included) anyway.
    await Promise.all([...processes.map((p) => p.stop(2_000)), cp?.stop(), apiForward?.close()]);
    teardownHost(stateDir);
    lock.release();
    process.stderr.write(`[node] stopped and cleaned up in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  };
  const start = (name: string, binary: string, args: string[], tailLines = 60): ManagedProcess => {
    const p = new ManagedProcess(name, binary, args, { logPath: join(stateDir, 'logs', `${name}.log`), tailLines });
    processes.push(p);
    return p;
  };

  try {
    snapshotHost(stateDir);
    const before = hostBefore(stateDir);
    for (const dir of ['logs', 'containerd/certs.d', 'cni/net.d', 'kubelet', 'pki', 'pod-logs']) await mkdir(join(stateDir, dir), { recursive: true });
    await mkdir(paths.registryStorage, { recursive: true });

    // Registry, then the images in it (built once, pushed every run: fast when present).
    const registryPort = await freePort();
    const registry = `127.0.0.1:${registryPort}`;
    await writeFile(join(stateDir, 'registry.yml'), registryConfig(paths, registryPort));
    const registryProcess = start('registry', 'docker-registry', ['serve', join(stateDir, 'registry.yml')], 5); // logs every 404 of a blob check as an error
    await waitUntil('registry', async () => (await fetch(`http://${registry}/v2/`)).ok, 30_000, () => (registryProcess.exit ? 'exited' : undefined));
    phase('registry');
    const images = parseImages(await runScript(join(REPO_ROOT, 'tools/images/build.sh'), [registry]));
    phase('images');

    // Host network: node IP, pod cgroup parent.
    setUpNodeAddress();
    setUpCgroupRoot();

    // containerd
    await writeFile(join(stateDir, 'containerd/config.toml'), containerdConfig(paths, images.pause));
    await mkdir(join(stateDir, 'containerd/certs.d', registry), { recursive: true });
    await writeFile(join(stateDir, 'containerd/certs.d', registry, 'hosts.toml'), registryHostsToml(registry));
    // Release image names (ghcr.io/ws-drain/*) resolve to the local registry's copies.
    await mkdir(join(stateDir, 'containerd/certs.d/ghcr.io'), { recursive: true });
    await writeFile(join(stateDir, 'containerd/certs.d/ghcr.io/hosts.toml'), registryHostsToml(registry, 'https://ghcr.io'));
    await writeFile(join(stateDir, 'cni/net.d/10-ws-drain-node.conflist'), cniConfig(paths));
    const containerd = start('containerd', 'containerd', ['--config', join(stateDir, 'containerd/config.toml'), '--log-level', 'warn']);

    // Control plane (the e2e suite's, with a node's flags).
    const kubeletToken = (await run('openssl', ['rand', '-hex', '24'])).trim();
    const kubeletPki = await kubeletClientPki(join(stateDir, 'pki'));
    cp = await startControlPlane({
      workDir: join(stateDir, 'controlplane'),
      ...(opts.apiserverPort === undefined ? {} : { apiserverPort: opts.apiserverPort }),
      extraTokens: [`${kubeletToken},system:node:${NODE.name},kubelet,"system:nodes"`],
      // Pods verify the API server at the `kubernetes` Service's ClusterIP (in-cluster config).
      servingHosts: [KUBERNETES_SERVICE_IP, NODE.ip, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      apiserverArgs: [
        // The `kubernetes` Service's endpoint: the node IP, forwarded to loopback below.
        `--advertise-address=${NODE.ip}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,PodSecurity,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota',
        // A controller-manager runs here, so ServiceAccount admission can stay on.
        '--disable-admission-plugins=',
        `--service-cluster-ip-range=${NODE.serviceCidr}`,
        `--kubelet-client-certificate=${kubeletPki.cert}`,
        `--kubelet-client-key=${kubeletPki.key}`,
        '--kubelet-preferred-address-types=InternalIP',
      ],
    });
    apiForward = await forwardNodeIpToApiserver(Number(new URL(cp.url).port));
    phase('control plane');
    const adminKubeconfig = join(stateDir, 'kubeconfig');
    await writeFile(adminKubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
    const kubeletKubeconfig = join(stateDir, 'kubelet/kubeconfig');
    await writeFile(kubeletKubeconfig, cp.kubeconfigYaml({ user: `system:node:${NODE.name}`, token: kubeletToken }), { mode: 0o600 });
    const bin = (name: string): string => join(binaries, name);

    start('kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${adminKubeconfig}`,
      '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller',
      `--service-account-private-key-file=${cp.pki.saKey}`,
      `--root-ca-file=${cp.pki.caCert}`,
      '--use-service-account-credentials=false',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--v=1',
    ]);
    start('kube-scheduler', bin('kube-scheduler'), [`--kubeconfig=${adminKubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0', '--v=1']);

    await waitUntil('containerd', async () => {
      await run('ctr', ['--address', paths.containerdSocket, 'version'], { timeoutMs: 5_000 });
      return true;
    }, 30_000, () => (containerd.exit ? 'exited' : undefined));

    await writeFile(join(stateDir, 'kubelet/config.yaml'), kubeletConfig(paths, kubeletPki.ca));
    const kubelet = start('kubelet', bin('kubelet'), [
      `--config=${join(stateDir, 'kubelet/config.yaml')}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--hostname-override=${NODE.name}`,
      `--node-ip=${NODE.ip}`,
      `--root-dir=${join(stateDir, 'kubelet')}`,
      `--cert-dir=${join(stateDir, 'kubelet/pki')}`,
      '--v=1',
    ]);
    await writeFile(join(stateDir, 'kube-proxy.yaml'), kubeProxyConfig(adminKubeconfig));
    start('kube-proxy', bin('kube-proxy'), [`--config=${join(stateDir, 'kube-proxy.yaml')}`, '--v=1']);

    const kubectl = (args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<string> =>
      run(bin('kubectl'), args, { env: { ...process.env, KUBECONFIG: adminKubeconfig }, ...o });

    const anyExited = (): string | undefined => {
      const dead = processes.find((p) => p.exit);
      return dead ? `${dead.name} exited` : undefined;
    };
    await waitUntil(
      'node Ready',
      async () => (await kubectl(['get', 'node', NODE.name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True',
      120_000,
      () => (kubelet.exit ? 'kubelet exited' : anyExited()),
    );
    // Pods need the default ServiceAccount, which the controller-manager creates.
    await waitUntil('default ServiceAccount', async () => (await kubectl(['get', 'serviceaccount', 'default', '-o', 'name'])).trim() !== '', 60_000, anyExited);
    phase('node ready');

    return {
      cp,
      registry,
      images,
      stateDir,
      kubeconfig: adminKubeconfig,
      kubectlPath: bin('kubectl'),
      kubectl,
      hostBefore: before,
      timings,
      describe,
      stop,
    };
  } catch (err) {
    const message = `real node failed to start: ${(err as Error).message}\n${describe()}`;
    await stop().catch(() => undefined);
    throw new Error(message);
  }
}
