#!/usr/bin/env bash
# Regenerates deepcopy, CRDs, RBAC and the chart's CRDs, and the chart's
# version, the `helm --version` of the README and the user guide, and
# config/manager's image tag from internal/version/VERSION (make version),
# and fails when that changed any
# file: generated files must be committed as generated.
set -euo pipefail
cd "$(dirname "$0")/.."

sums() { { find api config charts -type f 2>/dev/null; echo README.md; echo docs/USER_GUIDE.md; } | LC_ALL=C sort | xargs sha256sum; }

before=$(sums)
make --no-print-directory generate manifests version >/dev/null
after=$(sums)

if [[ $before != "$after" ]]; then
  echo "generated files were stale and have been regenerated:" >&2
  diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /  /p' >&2
  echo "commit the regenerated files ('make generate manifests version')." >&2
  exit 1
fi
echo "generated files are up to date"
