#!/bin/sh
# HostFactory and LSF run this as: getReturnRequests.sh -f <input.json>
ohfp_op=getReturnRequests
# shellcheck source=invoke_provider.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/invoke_provider.sh"
