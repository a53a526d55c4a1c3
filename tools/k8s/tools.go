//go:build tools

// Package tools pins the Kubernetes binaries the test suites and
// `npm run dev:cluster` run, built from source at the versions in go.mod (no
// downloads of release binaries needed). Build them with tools/k8s/build.sh:
//   - control plane (e2e): kube-apiserver, etcd, kubectl
//   - a real node (test/node, build.sh --node): kube-controller-manager,
//     kube-scheduler, kubelet, kube-proxy
//   - the admission benchmark's peer (bench/admission.ts, build.sh --agnhost):
//     agnhost, whose `webhook` is the reference webhook of Kubernetes' e2e tests
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
