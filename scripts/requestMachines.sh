#!/bin/sh
# HostFactory and LSF run this as: requestMachines.sh -f <input.json>
ohfp_op=requestMachines
# shellcheck source=invoke_provider.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/invoke_provider.sh"
