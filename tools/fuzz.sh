#!/usr/bin/env bash
# Runs every fuzz target of the module for a fixed time each (default 10s).
set -euo pipefail
shopt -s nullglob
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."
go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
  files=("$dir"/*_test.go)
  ((${#files[@]})) || continue
  sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "${files[@]}" | while read -r target; do
    echo "fuzz $pkg $target for $fuzztime"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" </dev/null
  done
done
