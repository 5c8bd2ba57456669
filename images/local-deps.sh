#!/usr/bin/env bash
# Installs, from Debian's archive, the host programs that test/images copies
# into the locally built agent images (there is no docker or registry here, so
# those images are assembled from host files): a static busybox for the
# agent's basic tools, bash (claude refuses to run its Bash tool without bash
# or zsh), git, and ripgrep (opencode's grep and glob tools download it when
# it is missing, which fails offline). Only what is missing is installed.
#
# Usage: images/local-deps.sh          install what is missing
#        images/local-deps.sh --check  only say what is missing (exit 1 if any)
set -euo pipefail

# program=package pairs: a package is installed when its program is missing.
# /bin/busybox must be the static build: test/images copies it without
# libraries.
wanted=(/bin/busybox=busybox-static /bin/bash=bash /usr/bin/git=git /usr/bin/rg=ripgrep)

missing=()
for pair in "${wanted[@]}"; do
  prog=${pair%%=*} pkg=${pair#*=}
  [[ -x $prog ]] || missing+=("$pkg")
done
# Debian's dynamic busybox package also provides /bin/busybox; ldd fails on
# a static program.
if [[ -x /bin/busybox ]] && ldd /bin/busybox >/dev/null 2>&1; then
  missing+=(busybox-static)
fi

if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if [[ ${1:-} == --check ]]; then
  echo "local-deps: missing packages: ${missing[*]} (run images/local-deps.sh)" >&2
  exit 1
fi
echo "local-deps: installing ${missing[*]} with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
