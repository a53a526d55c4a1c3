// Configuration files of the real test node's components. Each setting that is
// not a default says why; docs/real-node.md has the background.
import { NODE } from './host.js';

export interface NodePaths {
  state: string;
  containerdSocket: string;
  registryStorage: string;
}

export function registryConfig(paths: NodePaths, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${paths.registryStorage}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** containerd's CRI plugin, with everything it can keep in the state folder kept there. */
export function containerdConfig(paths: NodePaths, sandboxImage: string): string {
  const s = paths.state;
  return `version = 2
root = "${s}/containerd/root"
state = "${s}/containerd/state"
# Plugins that would touch host folders or need kernel features this node does not use.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${paths.containerdSocket}"

[ttrpc]
  address = "${paths.containerdSocket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails to start
  # (CRI asks for oom_score_adj -998 and runc cannot set it).
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${s}/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${s}/containerd/certs.d"
`;
}

/** containerd pulls from the local registry over plain HTTP (loopback only); as `server`'s mirror when given. */
export function registryHostsToml(registry: string, server = `http://${registry}`): string {
  return `server = "${server}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

/** Bridge + host-local: pod IPs in NODE.podCidr, reachable from the host through the bridge. */
export function cniConfig(paths: NodePaths): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: NODE.cniNetwork,
      plugins: [
        {
          type: 'bridge',
          bridge: NODE.bridge,
          isGateway: true,
          // Pods need no way out; no masquerade chains to clean up.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: NODE.podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: `${paths.state}/cni/ipam`,
          },
        },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(paths: NodePaths, clientCaFile: string): string {
  const s = paths.state;
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE.ip}
port: ${NODE.kubeletPort}
readOnlyPort: 0
healthzPort: 0
# kubectl logs/exec: the API server presents a client certificate from this CA.
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${clientCaFile}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${paths.containerdSocket}
cgroupDriver: cgroupfs
cgroupRoot: /${NODE.cgroupRoot}
# Hybrid cgroup v1 on these machines: 1.34 warns, later releases refuse without this.
failCgroupV1: false
failSwapOn: false
# Root here cannot lower oom_score_adj (no CAP_SYS_RESOURCE).
oomScoreAdj: 0
# The kubelet would otherwise create KUBE-FIREWALL etc.; kube-proxy's chains are all this node needs.
makeIPTablesUtilChains: false
# Keep every image (the sandbox image is not re-pullable from the internet).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
podLogsDir: ${s}/pod-logs
volumePluginDir: ${s}/kubelet/volume-plugins
serializeImagePulls: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
# The kubelet re-lists pods every second; sync status quickly for tests.
nodeStatusUpdateFrequency: 5s
`;
}

export function kubeProxyConfig(kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
hostnameOverride: ${NODE.name}
bindAddress: ${NODE.ip}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
mode: iptables
clusterCIDR: ${NODE.podCidr}
oomScoreAdj: 0
# Leave the host's conntrack sysctls alone (0 = do not change).
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  # Otherwise kube-proxy sets route_localnet for NodePorts on 127.0.0.1.
  localhostNodePorts: false
  minSyncPeriod: 0s
  syncPeriod: 30s
nodePortAddresses: ["${NODE.ip}/32"]
`;
}
