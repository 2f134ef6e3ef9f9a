#!/bin/sh
# HostFactory and LSF run this as: getRequestStatus.sh -f <input.json>
ohfp_op=getRequestStatus
# shellcheck source=invoke_provider.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/invoke_provider.sh"
