#!/usr/bin/env bash
# Runs a command with one DynamoDB Local and one moto for all of it: the
# test packages that need DynamoDB share these servers (through
# OHFP_TEST_DYNAMODB_ENDPOINT and OHFP_TEST_DYNAMODB_SECOND_ENDPOINT)
# instead of each starting its own.
#
#   with-server.sh COMMAND [ARGS...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$(mktemp -d)"
second="$(mktemp -d)"
trap '"$here/stop.sh" "$run"; "$here/stop.sh" "$second"; rm -rf "$run" "$second"' EXIT
# Both start at once: each takes seconds.
OHFP_DYNAMODB_OWNER_PID=$$ OHFP_DYNAMODB_IMPL=moto "$here/start.sh" "$second" >"$second/endpoint" &
starting=$!
OHFP_TEST_DYNAMODB_ENDPOINT="$(OHFP_DYNAMODB_OWNER_PID=$$ "$here/start.sh" "$run")"
wait "$starting"
OHFP_TEST_DYNAMODB_SECOND_ENDPOINT="$(cat "$second/endpoint")"
export OHFP_TEST_DYNAMODB_ENDPOINT OHFP_TEST_DYNAMODB_SECOND_ENDPOINT
"$@"
