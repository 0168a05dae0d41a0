//go:build tools

// Package tools pins the programs that build.sh compiles, so that `go mod tidy` keeps them and
// their dependencies in go.mod and go.sum. Nothing imports this package; it is never built.
//
//   - k8s.io/kubernetes/cmd/kube-apiserver: the API server the integration tests run against.
//   - k8s.io/kubernetes/cmd/kube-controller-manager: its garbage collector and namespace
//     controller, from the same Kubernetes module and version.
//   - go.etcd.io/etcd/server/v3: etcd (its root package is a main), at the version Kubernetes selects.
//   - github.com/tektoncd/pipeline/config: a placeholder package that keeps Tekton's module, and so
//     its config/300-crds/*.yaml, in the module cache; build.sh copies the CRDs from there.
package tools

import (
	_ "github.com/tektoncd/pipeline/config"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
