#!/usr/bin/env bash
# Installs the Debian packages the tests need, once; safe to run again.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
[ -x /usr/bin/time ] || missing+=(time)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || missing+=(chromium)
# The serve guard test sends what a web page would with curl too; the
# reconcile test answers its question on a terminal that script gives.
command -v curl >/dev/null || missing+=(curl)
command -v script >/dev/null || missing+=(bsdutils)
command -v npm >/dev/null || missing+=(nodejs npm)
# The package test: dpkg unpacks the .deb, rpm lists the .rpm, systemd-analyze
# rates the unit.
command -v dpkg-deb >/dev/null || missing+=(dpkg)
command -v rpm >/dev/null || missing+=(rpm)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The monitoring test: script calls push their counters to a real Pushgateway.
[ -x /usr/bin/prometheus-pushgateway ] || missing+=(prometheus-pushgateway)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
