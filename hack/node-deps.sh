#!/usr/bin/env bash
# Installs what a test node (test/node) runs besides the binaries
# hack/testbin.sh builds: Debian's containerd (with ctr and the runc v2 shim),
# runc and the CNI plugins (containernetworking-plugins, in /usr/lib/cni).
# Only what is missing is installed, with apt-get; when nothing is, it does
# nothing and needs nothing. Installing needs root, as the node itself does.
#
# Usage: hack/node-deps.sh
set -euo pipefail

log() { echo "node-deps: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# missing_packages: the Debian packages whose programs are not installed.
missing_packages() {
  local pkgs=()
  { have containerd && have ctr && have containerd-shim-runc-v2; } || pkgs+=(containerd)
  have runc || pkgs+=(runc)
  [[ -x /usr/lib/cni/loopback ]] || pkgs+=(containernetworking-plugins)
  echo "${pkgs[*]}"
}

read -r -a missing <<<"$(missing_packages)"
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  log "${missing[*]} not installed, and installing needs root: run 'sudo $0' (or: apt-get install ${missing[*]})"
  exit 1
fi
if ! have apt-get; then
  log "${missing[*]} not installed, and there is no apt-get: install them with this system's package manager"
  exit 1
fi
log "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Where systemd runs, the containerd package also starts the system's
# containerd; a test node does not use it (it runs its own, with its own
# socket and state).
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
read -r -a still <<<"$(missing_packages)"
if ((${#still[@]} > 0)); then
  log "installed ${missing[*]}, but the programs of ${still[*]} are still missing"
  exit 1
fi
log "installed ${missing[*]}"
