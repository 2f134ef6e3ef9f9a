#!/bin/sh
# HostFactory and LSF run this as: requestReturnMachines.sh -f <input.json>
ohfp_op=requestReturnMachines
# shellcheck source=invoke_provider.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/invoke_provider.sh"
