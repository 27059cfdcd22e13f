# Shared by the scripts in tests/env/ (sourced, never run).
# shellcheck shell=bash

ELECTOR_ENV_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ELECTOR_ROOT=$(cd "$ELECTOR_ENV_SCRIPTS/../.." && pwd)

K8S_VERSION=1.20.2
# Everything slow to make lives here, keyed by what it was made from.
ELECTOR_CACHE_DIR=${ELECTOR_CACHE_DIR:-/var/cache/elector}
# Environments: one directory each (kubeconfig, certificates, pids, logs).
ELECTOR_ENV_ROOT=${ELECTOR_ENV_ROOT:-/tmp/elector-envs}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The cache key of the Kubernetes binaries: the upstream version, our patches,
# the Go toolchain and the list of programs. Change any of them and a new
# build lands beside the old one.
k8s_cache_key() {
  local go_version
  go_version=$(go env GOVERSION 2>/dev/null || echo nogo)
  {
    echo "$K8S_VERSION $go_version $K8S_BUILD_WHAT"
    cat "$ELECTOR_ENV_SCRIPTS"/patches/*.patch
  } | sha256sum | cut -c1-12
}
K8S_BUILD_WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl"
K8S_PROGRAMS="kube-apiserver kube-controller-manager kube-scheduler kubectl"

k8s_bin_dir() { echo "$ELECTOR_CACHE_DIR/kubernetes/v$K8S_VERSION-$(k8s_cache_key)/bin"; }
k8s_src_dir() { echo "$ELECTOR_CACHE_DIR/kubernetes/src/kubernetes-$K8S_VERSION"; }

k8s_binaries_present() {
  local bin p
  bin=$(k8s_bin_dir)
  for p in $K8S_PROGRAMS; do [ -x "$bin/$p" ] || return 1; done
}

# A TCP port on 127.0.0.1 that nothing listens on right now. The kernel picks
# it (bind to port 0), so environments started at once do not collide.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# True if PID runs: exists and is not a zombie waiting for its parent (or
# init) to reap it; `kill -0` alone counts zombies as alive.
pid_running() {
  local state
  state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Waits until CMD succeeds, at most SECONDS; returns 1 on timeout.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
