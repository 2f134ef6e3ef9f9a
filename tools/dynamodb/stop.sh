#!/usr/bin/env bash
# Stops the server that start.sh started for RUN_DIR (default ./.run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${1:-$here/.run}"
[[ -f "$run/pid" ]] || exit 0
pid="$(cat "$run/pid")"
if kill "$pid" 2>/dev/null; then
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$run/pid" "$run/port"
