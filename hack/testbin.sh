#!/usr/bin/env bash
# Builds the binaries the tests run against (etcd, kube-apiserver, kubectl, Flux
# source-controller and its CRDs, the flux CLI, helm, actionlint) from the Go
# module proxy, into a cache directory, and prints the envtest assets directory
# (KUBEBUILDER_ASSETS).
#
# Nothing is downloaded from release sites: every binary is compiled from its Go
# module. What is already built at the right version is skipped.
#
# Usage: hack/testbin.sh [envtest|flux|helm|node|actionlint|all|env]   (default: all)
#   envtest  etcd, kube-apiserver, kubectl and Flux's source CRDs
#   flux     Flux: the source-controller binary and the flux CLI
#   helm     helm
#   actionlint  actionlint, which lints .github/workflows; prints its path
#   all      all of the above
#   env      build all, then print them as shell exports instead of the dir
# Env:   GASTOWN_TESTBIN  cache directory (default: ~/.cache/gastown-operator/testbin)
set -euo pipefail

K8S_VERSION=1.36.3
ETCD_VERSION=3.6.16
FLUX_SOURCE_VERSION=1.9.6
FLUX_ARTIFACT_VERSION=0.18.0 # the version source-controller asks for is not served here
FLUX_CLI_VERSION=2.9.5 # the Flux release of source-controller 1.9
HELM_VERSION=3.21.4
ACTIONLINT_VERSION=1.7.12

CACHE=${GASTOWN_TESTBIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gastown-operator/testbin}
ASSETS=$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION
FLUX_DIR=$CACHE/source-controller-$FLUX_SOURCE_VERSION
FLUX_CRDS=$CACHE/flux-crds-$FLUX_SOURCE_VERSION
FLUX_CLI_DIR=$CACHE/flux-cli-$FLUX_CLI_VERSION
HELM_DIR=$CACHE/helm-$HELM_VERSION
NODE_DIR=$CACHE/node-$K8S_VERSION
ACTIONLINT_DIR=$CACHE/actionlint-$ACTIONLINT_VERSION

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
LDFLAGS_BASE='-s -w'

log() { echo "testbin: $*" >&2; }

# throwaway_module DIR: an empty module outside the project, so that the
# project's go.mod never sees these dependencies.
throwaway_module() {
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init testbin.local/build >/dev/null 2>&1)
}

# build_once DIR FILE FN [WHAT]: run FN DIR unless DIR/FILE exists.
build_once() {
  local dir=$1 file=$2 fn=$3 what=${4:-$2}
  if [[ -e $dir/$file ]]; then return 0; fi
  mkdir -p "$dir"
  # Two runs at once (make test beside make bench-scale) would build into
  # the same .tmp file: the second waits for the first, then finds it built.
  exec {lock}>"$dir/.build.lock"
  flock "$lock"
  if [[ ! -e $dir/$file ]]; then
    local start=$SECONDS
    log "building $what into $dir (first run only) ..."
    "$fn" "$dir"
    log "built $what in $((SECONDS - start))s"
  fi
  exec {lock}>&-
}

build_etcd() {
  local out=$1 work; work=$(mktemp -d)
  throwaway_module "$work"
  (cd "$work" &&
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1 &&
    go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
  rm -rf "$work"
}

# kubernetes' go.mod points every k8s.io staging module at ./staging/src; a
# module that requires k8s.io/kubernetes must replace each with its release.
kubernetes_module() {
  local work=$1
  throwaway_module "$work"
  (cd "$work" &&
    go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION" &&
    local gomod; gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p') &&
    awk '/=> \.\/staging\/src\// {print $1}' "$gomod" | sort -u | while read -r mod; do
      go mod edit -replace="$mod=$mod@v0.${K8S_VERSION#1.}"
    done)
}

build_kubernetes() {
  local out=$1 work; work=$(mktemp -d)
  kubernetes_module "$work"
  local minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  local ld="$LDFLAGS_BASE -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$work" &&
    go build -trimpath -ldflags "$ld" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver &&
    go build -trimpath -ldflags "$ld" -o "$out/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
  mv "$out/kubectl.tmp" "$out/kubectl"
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
  rm -rf "$work"
}
build_apiserver() { [[ -x $1/kube-apiserver && -x $1/kubectl ]] || build_kubernetes "$1"; }

# The node: kubelet, and kube-scheduler and kube-controller-manager so that pods
# are scheduled and garbage-collected as in a real cluster.
build_node() {
  local out=$1 work; work=$(mktemp -d)
  kubernetes_module "$work"
  local minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  local ld="$LDFLAGS_BASE -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  local cmd
  for cmd in kubelet kube-scheduler kube-controller-manager; do
    (cd "$work" && go build -trimpath -ldflags "$ld" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$out/$cmd.tmp" "$out/$cmd"
  done
  rm -rf "$work"
}

module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p'; }

# Flux's source CRDs, for envtest: only downloaded, nothing is built.
copy_flux_crds() {
  local out=$1 dir
  dir=$(cd "$CACHE" && module_dir "github.com/fluxcd/source-controller@v$FLUX_SOURCE_VERSION")
  install -m 0644 "$dir"/config/crd/bases/*.yaml "$out/"
  touch "$out/.complete"
}

build_source_controller() {
  local out=$1 work; work=$(mktemp -d)
  throwaway_module "$work"
  local mod=github.com/fluxcd/source-controller
  (cd "$work" &&
    go mod edit -require="$mod@v$FLUX_SOURCE_VERSION" -require="$mod/api@v$FLUX_SOURCE_VERSION" &&
    local gomod; gomod=$(go mod download -json "$mod@v$FLUX_SOURCE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p') &&
    # keep source-controller's own replaces that point at other modules (not ./api)
    awk '/^replace / && $0 !~ /=> \.\// {sub(/^replace /,""); print}' "$gomod" | while read -r old _ new ver; do
      go mod edit -replace="$old=$new@$ver"
    done &&
    go mod edit -replace="github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v$FLUX_ARTIFACT_VERSION" &&
    go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$out/source-controller.tmp" "$mod")
  mv "$out/source-controller.tmp" "$out/source-controller"
  rm -rf "$work"
}

# The flux CLI, built in a copy of its module, so that flux2's own go.mod,
# go.sum and replace directives apply as in its release build. The module
# lacks cmd/flux/manifests, which flux2's Makefile generates with kustomize
# from the controllers' release files and embeds for `flux install` and
# `flux bootstrap`: this build embeds a placeholder instead, so those two fail
# unless given --manifests. The commands that talk to the API server (reconcile,
# get, suspend, resume, ...) are flux's own.
build_flux_cli() {
  local out=$1 work dir; work=$(mktemp -d)
  dir=$(cd "$CACHE" && module_dir "github.com/fluxcd/flux2/v2@v$FLUX_CLI_VERSION")
  cp -R "$dir/." "$work/" && chmod -R u+w "$work"
  mkdir -p "$work/cmd/flux/manifests"
  echo "# hack/testbin.sh builds flux without the manifests of 'flux install' and 'flux bootstrap'." \
    >"$work/cmd/flux/manifests/not-bundled.yaml"
  (cd "$work" &&
    go build -trimpath -ldflags "$LDFLAGS_BASE -X main.VERSION=$FLUX_CLI_VERSION" -o "$out/flux.tmp" ./cmd/flux)
  mv "$out/flux.tmp" "$out/flux"
  rm -rf "$work"
}

build_helm() {
  local out=$1 minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  local ld="$LDFLAGS_BASE -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ld+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
  done
  GOBIN=$out GOFLAGS= go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

# actionlint reports its module version (from the build info) with -version.
build_actionlint() {
  GOBIN=$1 GOFLAGS= go install -trimpath -ldflags "$LDFLAGS_BASE" "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
}

what=${1:-all}
case $what in
  envtest|all|env)
    build_once "$ASSETS" etcd build_etcd
    build_once "$ASSETS" kube-apiserver build_apiserver
    build_once "$FLUX_CRDS" .complete copy_flux_crds "Flux source CRDs" ;;&
  flux|all|env)
    build_once "$FLUX_DIR" source-controller build_source_controller
    build_once "$FLUX_CLI_DIR" flux build_flux_cli "the flux CLI" ;;&
  helm|all|env) build_once "$HELM_DIR" helm build_helm ;;&
  node|all|env) build_once "$NODE_DIR" kube-controller-manager build_node "kubelet, kube-scheduler, kube-controller-manager" ;;&
  actionlint|all|env) build_once "$ACTIONLINT_DIR" actionlint build_actionlint ;;&
  envtest|flux|helm|node|actionlint|all|env) ;;
  *) echo "usage: $0 [envtest|flux|helm|node|actionlint|all|env]" >&2; exit 2 ;;
esac

if [[ $what == env ]]; then
  echo "export KUBEBUILDER_ASSETS=$ASSETS"
  echo "export GASTOWN_FLUX_CRDS=$FLUX_CRDS"
  echo "export GASTOWN_SOURCE_CONTROLLER=$FLUX_DIR/source-controller"
  echo "export GASTOWN_FLUX=$FLUX_CLI_DIR/flux"
  echo "export GASTOWN_HELM=$HELM_DIR/helm"
  echo "export GASTOWN_NODE_BIN=$NODE_DIR"
  echo "export GASTOWN_ACTIONLINT=$ACTIONLINT_DIR/actionlint"
elif [[ $what == actionlint ]]; then
  echo "$ACTIONLINT_DIR/actionlint"
else
  echo "$ASSETS"
fi
