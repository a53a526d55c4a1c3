//go:build tools

// Package tools pins the Kubernetes binaries the test suites and
// `npm run dev:cluster` run, built from source at the versions in go.mod (no
// downloads of release binaries needed). Build them with tools/k8s/build.sh:
//   - control plane (e2e): kube-apiserver, etcd, kubectl
//   - a real node (test/node, build.sh --node): kube-controller-manager,
//     kube-scheduler, kubelet, kube-proxy
//   - the admission benchmark's peer (bench/admission.ts, build.sh --agnhost):
//     agnhost, whose `webhook` is the reference webhook of Kubernetes' e2e tests
//   - Helm (tools/helm/build.sh), at a release built on the same k8s.io
//     libraries: one module means one set of dependency versions, so a cold
//     Helm build after kubectl's reuses most of its compiled packages.
//     kustomize needs no build: `kubectl kustomize` is the same code.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
