#!/bin/sh
# HostFactory runs this as: requestReturnMachines.sh -f <input.json>
exec "${OHFP_BIN:-$(dirname -- "$0")/ohfp}" hf requestReturnMachines "$@"
