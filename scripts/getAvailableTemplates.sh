#!/bin/sh
# HostFactory and LSF run this as: getAvailableTemplates.sh -f <input.json>
OHFP_SCRIPT_DIR=$(dirname -- "$0"); export OHFP_SCRIPT_DIR
exec "${OHFP_BIN:-$OHFP_SCRIPT_DIR/ohfp}" hf getAvailableTemplates "$@"
