#!/bin/sh
# HostFactory runs this as: getAvailableTemplates.sh -f <input.json>
exec "${OHFP_BIN:-$(dirname -- "$0")/ohfp}" hf getAvailableTemplates "$@"
