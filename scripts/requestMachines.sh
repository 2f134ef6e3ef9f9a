#!/bin/sh
# HostFactory runs this as: requestMachines.sh -f <input.json>
exec "${OHFP_BIN:-$(dirname -- "$0")/ohfp}" hf requestMachines "$@"
