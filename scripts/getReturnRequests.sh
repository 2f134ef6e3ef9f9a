#!/bin/sh
# HostFactory runs this as: getReturnRequests.sh -f <input.json>
exec "${OHFP_BIN:-$(dirname -- "$0")/ohfp}" hf getReturnRequests "$@"
