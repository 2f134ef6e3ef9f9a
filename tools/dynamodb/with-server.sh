#!/usr/bin/env bash
# Runs a command with one DynamoDB Local for all of it: the test packages
# that need DynamoDB share this server (through OHFP_TEST_DYNAMODB_ENDPOINT)
# instead of each starting a JVM of its own.
#
#   with-server.sh COMMAND [ARGS...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$(mktemp -d)"
trap '"$here/stop.sh" "$run"; rm -rf "$run"' EXIT
OHFP_TEST_DYNAMODB_ENDPOINT="$(OHFP_DYNAMODB_OWNER_PID=$$ "$here/start.sh" "$run")"
export OHFP_TEST_DYNAMODB_ENDPOINT
"$@"
