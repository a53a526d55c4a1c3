// Host state of the real test node: what it changes outside its state folder,
// and the teardown that puts all of it back, also after a crashed run.
//
// Some of a node's state is host-wide whatever its configuration says
// (docs/real-node.md): CNI network namespaces and results, containerd shim
// sockets, kube-proxy's iptables chains, a few sysctls, the kubelet's
// device-plugin and container-log folders. Everything here is named so it
// cannot be mistaken for another test's (the lifecycle suite's wsd-* namespaces
// and 10.213.0.0/16, the e2e suite's loopback apiservers), and the teardown
// touches only what carries those names.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Names and address ranges of the node; chosen not to collide with the other suites on the machine. */
export const NODE = {
  name: 'ws-drain-node',
  /**
   * A veth end holds the node IP: the kubelet refuses a loopback node IP, the
   * kernel here has no dummy interfaces, and the CNI bridge allows no second IPv4 address.
   */
  ipInterface: 'rnode-ip0',
  ipInterfacePeer: 'rnode-ip1',
  ip: '10.219.0.1',
  bridge: 'rnode-br0',
  podCidr: '10.217.0.0/24',
  serviceCidr: '10.218.0.0/24',
  /** CNI network name: prefixes its result files in /var/lib/cni/results. */
  cniNetwork: 'ws-drain-node',
  /** Parent cgroup of every pod (kubelet cgroupRoot). */
  cgroupRoot: 'ws-drain-node',
  kubeletPort: 10250,
} as const;

/** The sysctls and sandbox namespaces recorded before this node started (what teardown restores). */
export function hostBefore(stateDir: string): { sysctls: Record<string, string>; netns: string[] } {
  const snapshot = JSON.parse(readFileSync(snapshotFile(stateDir), 'utf8')) as HostSnapshot;
  return { sysctls: snapshot.sysctls, netns: snapshot.netnsBefore ?? [] };
}

/** One node per machine: containerd, CNI and kube-proxy state are host-wide. */
export const LOCK_FILE = '/run/lock/ws-drain-node.lock';

/** Sysctls the kubelet, kube-proxy or the CNI bridge may change; restored on teardown. */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
];

/** Host paths a node creates outside its state folder; removed on teardown unless they existed before. */
const HOST_PATHS = ['/var/lib/kubelet', '/var/log/containers', '/var/log/pods', '/run/containerd', '/var/lib/cni', '/run/netns'];

interface HostSnapshot {
  sysctls: Record<string, string>;
  existedBefore: string[];
  /** CRI sandbox namespaces (/run/netns/cni-*) that existed before: never ours to remove. */
  netnsBefore?: string[];
}

function snapshotFile(stateDir: string): string {
  return join(stateDir, 'host-snapshot.json');
}

/**
 * Records the sysctls and host paths the node may change, once: a snapshot
 * left by a crashed run is kept, so it still holds the values from before it.
 */
export function snapshotHost(stateDir: string): void {
  const file = snapshotFile(stateDir);
  if (existsSync(file)) return;
  mkdirSync(stateDir, { recursive: true });
  const sysctls: Record<string, string> = {};
  for (const key of SYSCTLS) {
    try {
      sysctls[key] = readFileSync(`/proc/sys/${key}`, 'utf8').trim();
    } catch {
      // not present on this kernel (br_netfilter not loaded): nothing to restore
    }
  }
  const snapshot: HostSnapshot = { sysctls, existedBefore: HOST_PATHS.filter((p) => existsSync(p)), netnsBefore: sandboxNamespaces() };
  writeFileSync(file, JSON.stringify(snapshot, null, 2));
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** An interface with the node IP, and the route that sends Service traffic from the host into kube-proxy's rules. */
export function setUpNodeAddress(): void {
  run('ip', ['link', 'del', NODE.ipInterface]);
  execFileSync('ip', ['link', 'add', NODE.ipInterface, 'type', 'veth', 'peer', 'name', NODE.ipInterfacePeer]);
  execFileSync('ip', ['addr', 'add', `${NODE.ip}/32`, 'dev', NODE.ipInterface]);
  // Both ends up, so the link has carrier and the Service route is not "linkdown".
  execFileSync('ip', ['link', 'set', NODE.ipInterfacePeer, 'up']);
  execFileSync('ip', ['link', 'set', NODE.ipInterface, 'up']);
  // A route for ClusterIPs: connect() needs one before the OUTPUT chain's DNAT
  // rewrites the destination to a pod IP (then the bridge route is used).
  execFileSync('ip', ['route', 'replace', NODE.serviceCidr, 'dev', NODE.ipInterface, 'src', NODE.ip]);
}

/** The kubelet's pod cgroups go under this parent in every hierarchy (hybrid cgroup v1 + v2). */
export function setUpCgroupRoot(): void {
  for (const dir of cgroupRootDirs(true)) mkdirSync(dir, { recursive: true });
}

function cgroupRootDirs(forCreate: boolean): string[] {
  const base = '/sys/fs/cgroup';
  const dirs: string[] = [];
  for (const entry of readdirSync(base)) {
    const hierarchy = join(base, entry);
    // Only mounted hierarchies (cpu,cpuacct symlinks point at one of them).
    if (!existsSync(join(hierarchy, 'cgroup.procs'))) continue;
    const dir = join(hierarchy, NODE.cgroupRoot);
    if (forCreate || existsSync(dir)) dirs.push(dir);
  }
  return dirs;
}

/** Every process in the node's pod cgroups (containers, whatever their runtime state). */
function podProcesses(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    } catch {
      // removed while walking
    }
  };
  for (const dir of cgroupRootDirs(false)) walk(dir);
  return [...pids];
}

/** Processes whose command line names the state folder: the node's components, shims and guards. */
function stateProcesses(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(stateDir)) pids.push(pid);
    } catch {
      // exited
    }
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Mount points under any of `prefixes`, deepest first. */
function mountsUnder(prefixes: string[]): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\040/g, ' '));
  return [...new Set(mounts.filter((m) => prefixes.some((p) => m === p || m.startsWith(`${p}/`))))].sort((a, b) => b.length - a.length);
}

/** containerd's CRI names pod sandbox namespaces cni-<uuid>; nothing else on these machines does. */
export function sandboxNamespaces(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('cni-')) : [];
}

/** Sandbox namespaces of this node: an address in the pod network, or (their veth already gone) new since the snapshot and empty. */
function nodeNamespaces(snapshot: HostSnapshot | undefined): string[] {
  return sandboxNamespaces().filter((name) => {
    if (run('ip', ['-n', name, '-o', '-4', 'addr']).out.includes(` ${NODE.podCidr.split('.').slice(0, 3).join('.')}.`)) return true;
    if (!snapshot?.netnsBefore || snapshot.netnsBefore.includes(name)) return false;
    return run('ip', ['netns', 'pids', name]).out.trim() === '';
  });
}

/** Network namespaces the node's CNI network set up, from the CNI result cache. */
function cniNamespaces(): { netns: string[]; resultFiles: string[] } {
  const dir = '/var/lib/cni/results';
  const netns = new Set<string>();
  const resultFiles: string[] = [];
  if (!existsSync(dir)) return { netns: [], resultFiles };
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${NODE.cniNetwork}-`)) continue;
    const file = join(dir, name);
    resultFiles.push(file);
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { netns?: unknown };
      if (typeof parsed.netns === 'string' && parsed.netns.startsWith('/var/run/netns/')) netns.add(parsed.netns.replace('/var/run/', '/run/'));
      else if (typeof parsed.netns === 'string') netns.add(parsed.netns);
    } catch {
      // unreadable result: the file is still removed
    }
  }
  return { netns: [...netns], resultFiles };
}

/** iptables chains that kube-proxy and the kubelet create (KUBE-*), with the jumps into them, in each table. */
function removeKubeChains(): void {
  for (const binary of ['iptables', 'ip6tables']) {
    for (const table of ['nat', 'filter', 'mangle']) {
      const saved = run(`${binary}-save`, ['-t', table]);
      if (!saved.ok) continue;
      const chains = new Set<string>();
      const jumps: string[][] = [];
      for (const line of saved.out.split('\n')) {
        const chain = /^:(KUBE-\S+)/.exec(line)?.[1];
        if (chain) chains.add(chain);
        // A rule in a built-in chain that jumps to one of ours.
        const rule = /^-A (\S+) (.*-j KUBE-\S+.*)$/.exec(line);
        if (rule && !rule[1]!.startsWith('KUBE-')) jumps.push([rule[1]!, rule[2]!]);
      }
      for (const [chain, spec] of jumps) {
        // iptables-save quotes comments; a shell splits them as iptables expects.
        spawnSync('sh', ['-c', `${binary} -t ${table} -D ${chain} ${spec}`]);
      }
      for (const chain of chains) run(binary, ['-t', table, '-F', chain]);
      for (const chain of chains) run(binary, ['-t', table, '-X', chain]);
    }
  }
}

export interface TeardownReport {
  killed: number;
  unmounted: number;
  netns: number;
}

/**
 * Puts the host back as it was before the node started: kills every process
 * of the node (components, shims, containers), unmounts what it mounted,
 * removes its network namespaces, interfaces, iptables chains and cgroups,
 * restores the sysctls and removes the state folder. Safe to run when nothing
 * is left, and after a crash (everything is found from names and the host,
 * not from the crashed process's memory).
 */
export function teardownHost(stateDir: string): TeardownReport {
  const report: TeardownReport = { killed: 0, unmounted: 0, netns: 0 };
  // Containers first (they hold mounts), then everything started from the state folder.
  for (let round = 0; round < 5; round++) {
    const pids = [...podProcesses(), ...stateProcesses(stateDir)];
    if (pids.length === 0) break;
    report.killed += pids.length;
    killAll(pids);
    sleepMs(200);
  }

  const file = snapshotFile(stateDir);
  const snapshot = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostSnapshot) : undefined;
  const { netns, resultFiles } = cniNamespaces();
  for (const ns of new Set([...netns, ...nodeNamespaces(snapshot).map((n) => `/run/netns/${n}`)])) {
    run('umount', ['-l', ns]);
    try {
      rmSync(ns, { force: true });
      report.netns++;
    } catch {
      // EBUSY: another process's mount namespace (copied while this one
      // existed) still holds the bind mount; leftovers() reports it.
    }
  }
  for (const result of resultFiles) rmSync(result, { force: true });

  for (const mount of mountsUnder([stateDir, '/run/containerd', '/var/lib/kubelet'])) {
    if (run('umount', ['-l', mount]).ok) report.unmounted++;
  }

  // Veths on the bridge normally vanish with their namespace; any left are ours.
  const attached = run('ip', ['-o', 'link', 'show', 'master', NODE.bridge]);
  for (const m of attached.out.matchAll(/^\d+: ([^@:]+)/gm)) run('ip', ['link', 'del', m[1]!]);
  run('ip', ['link', 'del', NODE.bridge]);
  run('ip', ['route', 'del', NODE.serviceCidr]);
  run('ip', ['link', 'del', NODE.ipInterface]);

  removeKubeChains();
  // conntrack entries for our ranges would otherwise outlive the rules.
  for (const cidr of [NODE.podCidr, NODE.serviceCidr]) {
    run('conntrack', ['-D', '-s', cidr]);
    run('conntrack', ['-D', '-d', cidr]);
  }

  // Deepest cgroups first; rmdir only succeeds on empty ones.
  const removeCgroups = (dir: string): void => {
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroups(join(dir, entry.name));
      rmdirSync(dir);
    } catch {
      // still busy or gone
    }
  };
  for (const dir of cgroupRootDirs(false)) removeCgroups(dir);

  if (snapshot) {
    for (const [key, value] of Object.entries(snapshot.sysctls)) {
      try {
        if (readFileSync(`/proc/sys/${key}`, 'utf8').trim() !== value) writeFileSync(`/proc/sys/${key}`, value);
      } catch {
        // the sysctl went away (module unloaded): nothing to restore
      }
    }
    for (const path of HOST_PATHS) {
      if (snapshot.existedBefore.includes(path) || !existsSync(path)) continue;
      // /run/netns may have gained other tests' namespaces meanwhile: only an empty one goes.
      if (path === '/run/netns') {
        if (readdirSync(path).length === 0) rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (mountsUnder([path]).length === 0) rmSync(path, { recursive: true, force: true });
    }
  }
  if (mountsUnder([stateDir]).length === 0) rmSync(stateDir, { recursive: true, force: true });
  return report;
}

/** What teardown would still find: the host checks of the real-node suite (`netnsBefore`: sandboxNamespaces() before the run). */
export function leftovers(stateDir: string, netnsBefore: string[] = []): string[] {
  const found: string[] = [];
  const pids = [...podProcesses(), ...stateProcesses(stateDir)];
  if (pids.length > 0) found.push(`processes: ${pids.join(' ')}`);
  const mounts = mountsUnder([stateDir]);
  if (mounts.length > 0) found.push(`mounts: ${mounts.join(' ')}`);
  for (const link of [NODE.bridge, NODE.ipInterface]) if (run('ip', ['link', 'show', link]).ok) found.push(`interface ${link}`);
  const { netns, resultFiles } = cniNamespaces();
  if (netns.length + resultFiles.length > 0) found.push(`CNI namespaces/results: ${[...netns, ...resultFiles].join(' ')}`);
  const newSandboxes = sandboxNamespaces().filter((n) => !netnsBefore.includes(n));
  if (newSandboxes.length > 0) found.push(`sandbox network namespaces: ${newSandboxes.join(' ')}`);
  for (const table of ['nat', 'filter', 'mangle']) {
    const chains = run('iptables-save', ['-t', table]).out.match(/^:KUBE-\S+/gm);
    if (chains) found.push(`iptables ${table}: ${chains.join(' ')}`);
  }
  if (cgroupRootDirs(false).length > 0) found.push(`cgroups: ${cgroupRootDirs(false).join(' ')}`);
  if (existsSync(stateDir) && statSync(stateDir).isDirectory()) found.push(`state folder ${stateDir}`);
  return found;
}
