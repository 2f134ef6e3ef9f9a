#!/bin/sh
# HostFactory runs this as: getRequestStatus.sh -f <input.json>
exec "${OHFP_BIN:-$(dirname -- "$0")/ohfp}" hf getRequestStatus "$@"
