#!/usr/bin/env bash
# Installs the agent CLIs at the versions pinned in images/versions.env from
# the npm registry into the cache (once), and prints where they are.
#
# Usage: hack/agent-clis.sh [claude|opencode|all|env]   (default: all)
#   claude    @anthropic-ai/claude-code (its native linux-x64 binary)
#   opencode  opencode-ai (its native binary)
#   env       install both, then print shell exports
# Env:   GASTOWN_AGENTS  cache directory (default: ~/.cache/gastown-operator/agents)
# aider is a PyPI package, which cannot be installed here: its image is built
# only by `make images`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../images/versions.env
source images/versions.env

CACHE=${GASTOWN_AGENTS:-${XDG_CACHE_HOME:-$HOME/.cache}/gastown-operator/agents}
CLAUDE_DIR=$CACHE/claude-code-$CLAUDE_CODE_VERSION
OPENCODE_DIR=$CACHE/opencode-$OPENCODE_VERSION

log() { echo "agent-clis: $*" >&2; }

# npm_install DIR PACKAGE@VERSION BIN: install PACKAGE into DIR (with its
# optional native packages) unless DIR/BIN is there, and check it runs.
npm_install() {
  local dir=$1 pkg=$2 bin=$3
  if [[ -x $dir/$bin ]]; then return 0; fi
  if ! command -v npm >/dev/null; then
    log "npm is not installed: installing Debian's nodejs and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  local start=$SECONDS tmp=$dir.tmp
  log "installing $pkg from the npm registry into $dir (first run only; several hundred MB) ..."
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error --prefix "$tmp" "$pkg" >&2)
  mkdir -p "$(dirname "$tmp/$bin")"
  rm -rf "$dir" && mv "$tmp" "$dir"
  log "installed $pkg in $((SECONDS - start))s"
}

# The native binaries, found inside the platform packages npm chose.
claude_bin() { find "$CLAUDE_DIR/node_modules/@anthropic-ai" -path '*claude-code-linux-x64/claude' -type f | head -1; }
opencode_bin() { find "$OPENCODE_DIR/node_modules" -path '*opencode-linux-x64/bin/opencode' -type f | head -1; }

install_claude() {
  npm_install "$CLAUDE_DIR" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" node_modules/.bin/claude
  [[ -n $(claude_bin) ]] || { log "no native claude binary in $CLAUDE_DIR"; exit 1; }
}
install_opencode() {
  npm_install "$OPENCODE_DIR" "opencode-ai@$OPENCODE_VERSION" node_modules/.bin/opencode
  [[ -n $(opencode_bin) ]] || { log "no native opencode binary in $OPENCODE_DIR"; exit 1; }
}

what=${1:-all}
case $what in
  claude) install_claude; claude_bin ;;
  opencode) install_opencode; opencode_bin ;;
  all) install_claude; install_opencode ;;
  env)
    install_claude; install_opencode
    echo "export GASTOWN_CLAUDE=$(claude_bin)"
    echo "export GASTOWN_OPENCODE=$(opencode_bin)" ;;
  *) echo "usage: $0 [claude|opencode|all|env]" >&2; exit 2 ;;
esac
