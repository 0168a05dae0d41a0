#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager (both from the one pinned k8s.io/kubernetes
# module) and etcd from the Go module proxy (versions pinned in go.mod) into a per-user cache
# keyed by the Kubernetes version, copies Tekton's PipelineRun and TaskRun CRDs from the Go
# module cache next to them, and builds helm (pinned in helm/go.mod, a module of its own) into
# the same directory, with the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs (for
# the chart's tests). Idempotent: when the four binaries are there and report the pinned
# versions, and the CRDs are there, it does nothing but print the directory.
#
#   tools/k8s-testbin/build.sh            build if needed; print the directory on the last line
#   tools/k8s-testbin/build.sh --force    rebuild even when the binaries look current
#
# The directory is ${WFE_TESTBIN_DIR} when set, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/wfe-testbin/<kubernetes-version>/ (the same rule as
# wfe.dev.controlplane). Needs Go and the Go module proxy. A cold build takes 10-15 minutes on
# 2 cores (measured times in docs/testenv.md); it says what it builds, and when another build
# holds the directory's lock it says so before waiting for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

log() { echo "k8s-testbin: $*" >&2; }

if ! command -v go >/dev/null; then
  # Locally the integration tests then skip themselves with this reason; under CI they must run.
  log "Go is not installed: cannot build kube-apiserver, kube-controller-manager and etcd" \
    "(integration tests need them)"
  case "${CI:-}" in ""|0|false|no) exit 0 ;; *) exit 1 ;; esac
fi

# The committed go.mod and go.sum are the pins; never let the build rewrite them.
export GOFLAGS="-mod=readonly ${GOFLAGS:-}"
export CGO_ENABLED=0

# Versions from go.mod itself, so there is one place to change them (gen-gomod.sh).
# modver <module> [go.mod file]: the version a go.mod requires (block or one-line `require`).
modver() {
  awk -v m="$1" '$1 == m && $2 ~ /^v/ {print $2; exit}
                 $1 == "require" && $2 == m && $3 ~ /^v/ {print $3; exit}' "${2:-go.mod}"
}
k8s_version=$(modver k8s.io/kubernetes)
etcd_version=$(modver go.etcd.io/etcd/server/v3)
tekton_version=$(modver github.com/tektoncd/pipeline)
[ -n "$k8s_version" ] && [ -n "$etcd_version" ] && [ -n "$tekton_version" ] \
  || { log "cannot read the pinned versions from go.mod"; exit 1; }
helm_version=$(modver helm.sh/helm/v3 helm/go.mod)
helm_client_go=$(modver k8s.io/client-go helm/go.mod)
[ -n "$helm_version" ] && [ -n "$helm_client_go" ] \
  || { log "cannot read the pinned helm version from helm/go.mod"; exit 1; }

out=${WFE_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wfe-testbin/$k8s_version}
mkdir -p "$out"
out=$(cd "$out" && pwd)  # absolute: helm is built from ./helm

# One build at a time per directory (bootstrap may run in two shells at once). Whoever holds
# the lock writes who it is to .lock.holder, so that a waiter can say what it is waiting for: a
# cold build behind a lock is many silent minutes otherwise.
exec 9>"$out/.lock"
if command -v flock >/dev/null; then
  if ! flock -n 9; then
    holder=$(cat "$out/.lock.holder" 2>/dev/null || true)
    log "another build holds $out/.lock${holder:+ ($holder)};" \
      "waiting for it to finish (a cold build takes 10-15 minutes; then this one checks" \
      "the binaries and builds only what is still missing)"
    flock 9
    log "lock acquired after waiting"
  fi
  echo "pid $$ on $(hostname 2>/dev/null || echo '?'), since $(date -u +%H:%M:%SZ)" \
    > "$out/.lock.holder"
  trap 'rm -f "$out/.lock.holder"' EXIT  # before the lock goes: never name a past holder
fi

kube_ok() { # kube_ok <binary>: there, and reports the pinned Kubernetes version
  [ -x "$out/$1" ] && [ "$("$out/$1" --version 2>/dev/null)" = "Kubernetes $k8s_version" ]
}
apiserver_ok() { kube_ok kube-apiserver; }
controller_manager_ok() { kube_ok kube-controller-manager; }
etcd_ok() {
  [ -x "$out/etcd" ] || return 1
  local reported
  reported=$("$out/etcd" --version 2>/dev/null) || return 1
  [[ $'\n'"$reported"$'\n' == *$'\n'"etcd Version: ${etcd_version#v}"$'\n'* ]]
}

# The commit a version was tagged from, when the module proxy recorded it (for `--version`).
origin_hash() {
  { go mod download -json "$1@$2" 2>/dev/null || true; } \
    | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]\{40\}\)".*/\1/p;T;q'
}

build() { # build <package> <output name> <rough time> [ldflags]
  local pkg=$1 name=$2 estimate=$3 ldflags=${4:-}
  local tmp="$out/.$name.tmp.$$"
  log "building $name ($pkg; $estimate) ..."
  [ -f "$out/.lock.holder" ] && echo "pid $$ on $(hostname 2>/dev/null || echo '?')," \
    "building $name since $(date -u +%H:%M:%SZ), $estimate" > "$out/.lock.holder"
  local start=$SECONDS
  go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"
  mv -f "$tmp" "$out/$name"
  log "built $name in $((SECONDS - start)) s"
}

# What this run will build and roughly how long each takes, said up front (wall clock measured
# on 2 shared cores, docs/testenv.md): a cold build is minutes of silence otherwise.
declare -A estimate=(
  [kube-apiserver]="about 7 min from a cold Go build cache"
  [kube-controller-manager]="about 3 min after kube-apiserver, whose packages it shares"
  [etcd]="under half a minute"
)
todo=()
if [ "$force" = 1 ] || ! apiserver_ok; then todo+=(kube-apiserver); fi
if [ "$force" = 1 ] || ! controller_manager_ok; then todo+=(kube-controller-manager); fi
if [ "$force" = 1 ] || ! etcd_ok; then todo+=(etcd); fi
for name in "${todo[@]}"; do
  version=$k8s_version; [ "$name" = etcd ] && version=$etcd_version
  log "to build: $name $version (${estimate[$name]})"
done

# The -X flags that make `--version` report the pinned version (both Kubernetes binaries).
kube_flags() {
  local minor=${k8s_version#v1.} v=k8s.io/component-base/version commit
  minor=${minor%%.*}
  commit=$(origin_hash k8s.io/kubernetes "$k8s_version")
  local flags="-X $v.gitVersion=$k8s_version -X $v.gitMajor=1 -X $v.gitMinor=$minor"
  flags+=" -X $v.gitTreeState=clean -X $v.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  [ -n "$commit" ] && flags+=" -X $v.gitCommit=$commit"
  echo "$flags"
}

if [[ " ${todo[*]} " == *" kube-apiserver "* ]]; then
  build k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver \
    "${estimate[kube-apiserver]}" "$(kube_flags)"
  apiserver_ok || { log "kube-apiserver --version is not 'Kubernetes $k8s_version'"; exit 1; }
fi

if [[ " ${todo[*]} " == *" kube-controller-manager "* ]]; then
  build k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager \
    "${estimate[kube-controller-manager]}" "$(kube_flags)"
  controller_manager_ok \
    || { log "kube-controller-manager --version is not 'Kubernetes $k8s_version'"; exit 1; }
fi

if [[ " ${todo[*]} " == *" etcd "* ]]; then
  commit=$(origin_hash go.etcd.io/etcd/server/v3 "$etcd_version")
  flags=""
  [ -n "$commit" ] && flags="-X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:8}"
  build go.etcd.io/etcd/server/v3 etcd "${estimate[etcd]}" "$flags"
  etcd_ok || { log "etcd --version does not report ${etcd_version#v}"; exit 1; }
fi

# helm, from its own module (helm/go.mod): requiring it in ./go.mod would change module versions
# kube-apiserver and etcd are built from. The -X flags are those of helm's Makefile for a release
# tag; the Kubernetes version helm assumes (`.Capabilities.KubeVersion` in `helm template`) is
# derived from its client-go, as the Makefile does.
helm_ok() {
  [ -x "$out/helm" ] \
    && [ "$("$out/helm" version --template '{{.Version}}' 2>/dev/null)" = "$helm_version" ]
}
if [ "$force" = 1 ] || ! helm_ok; then
  hv=helm.sh/helm/v3
  helm_minor=${helm_client_go#v0.}; helm_minor=${helm_minor%%.*}
  flags="-X $hv/internal/version.version=$helm_version"
  flags+=" -X $hv/internal/version.gitTreeState=clean"
  for pkg in pkg/chartutil pkg/lint/rules; do
    flags+=" -X $hv/$pkg.k8sVersionMajor=1 -X $hv/$pkg.k8sVersionMinor=$helm_minor"
  done
  commit=$(cd helm && origin_hash "$hv" "$helm_version")
  [ -n "$commit" ] && flags+=" -X $hv/internal/version.gitCommit=$commit"
  (cd helm && build "$hv/cmd/helm" helm "about 1.5 min after kube-apiserver, 4 from a cold build cache" "$flags")
  helm_ok || { log "helm version does not report $helm_version"; exit 1; }
fi

# Tekton's real CRDs, read from the module cache (downloaded by `go mod download` if missing).
tekton_dir=$(go mod download -json "github.com/tektoncd/pipeline@$tekton_version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$out/tekton-crds"
for f in 300-pipelinerun.yaml 300-taskrun.yaml; do
  src="$tekton_dir/config/300-crds/$f"
  [ -f "$src" ] || { log "missing $src in github.com/tektoncd/pipeline@$tekton_version"; exit 1; }
  if ! cmp -s "$src" "$out/tekton-crds/$f"; then
    install -m 0644 "$src" "$out/tekton-crds/$f"
  fi
done

# The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs (from its module, like Tekton's),
# so the chart's monitoring objects are validated against their real schemas. Pinned here: no Go
# package of ours imports the module; `go mod download` checks it against the checksum database.
prometheus_operator_version=v0.85.0
po_module=github.com/prometheus-operator/prometheus-operator
po_dir=$(go mod download -json "$po_module@$prometheus_operator_version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$out/monitoring-crds"
for f in monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml; do
  src="$po_dir/example/prometheus-operator-crd/$f"
  [ -f "$src" ] || { log "missing $src in $po_module@$prometheus_operator_version"; exit 1; }
  if ! cmp -s "$src" "$out/monitoring-crds/$f"; then
    install -m 0644 "$src" "$out/monitoring-crds/$f"
  fi
done

# What was built from what, for people and for wfe.dev.controlplane's error messages.
cat > "$out/versions.env.tmp" <<VERSIONS
KUBERNETES_VERSION=$k8s_version
ETCD_VERSION=$etcd_version
TEKTON_PIPELINE_VERSION=$tekton_version
HELM_VERSION=$helm_version
PROMETHEUS_OPERATOR_CRDS_VERSION=$prometheus_operator_version
GO_VERSION=$(go env GOVERSION)
VERSIONS
if cmp -s "$out/versions.env.tmp" "$out/versions.env"; then rm -f "$out/versions.env.tmp"
else mv -f "$out/versions.env.tmp" "$out/versions.env"; fi

log "kube-apiserver and kube-controller-manager $k8s_version, etcd $etcd_version," \
  "Tekton CRDs $tekton_version, helm $helm_version in:"
echo "$out"
