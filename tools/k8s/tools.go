//go:build tools

// Package tools pins the Kubernetes control-plane binaries the e2e suite and
// `npm run dev:cluster` run: kube-apiserver, etcd and kubectl, built from source
// at the versions in go.mod (no container runtime or downloads of release
// binaries needed). Build them with tools/k8s/build.sh.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
