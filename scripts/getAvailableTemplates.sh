#!/bin/sh
# HostFactory and LSF run this as: getAvailableTemplates.sh -f <input.json>
ohfp_op=getAvailableTemplates
# shellcheck source=invoke_provider.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/invoke_provider.sh"
