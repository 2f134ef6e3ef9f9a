#!/usr/bin/env bash
# Installs the Debian packages the tests need, once; safe to run again.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
[ -x /usr/bin/time ] || missing+=(time)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
