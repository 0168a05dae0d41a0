//go:build tools

// Package tools pins helm, which build.sh compiles next to kube-apiserver, so that `go mod tidy`
// keeps it and its dependencies in this module's go.mod and go.sum. Nothing imports this package.
//
// Helm is a module of its own (not a requirement of ../go.mod): requiring it there would raise
// golang.org/x/crypto, golang.org/x/text, golang.org/x/tools and go.yaml.in/yaml/v3 in the
// build of kube-apiserver and etcd. Here it is built from exactly the versions its own go.mod
// selects.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
