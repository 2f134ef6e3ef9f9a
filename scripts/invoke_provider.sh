# shellcheck shell=sh disable=SC2154 # ohfp_op is set by the sourcing script
# Sourced by the five provider scripts, which set ohfp_op: runs
# `ohfp hf $ohfp_op` with the script's arguments. The binary is $OHFP_BIN
# when set, else ohfp in the scripts' folder, else bin/ohfp of the checkout
# the scripts belong to (after `make build`). When there is none, it says
# where it looked, in one line on standard error and in HostFactory's error
# envelope on standard output, and exits 1.
OHFP_SCRIPT_DIR=$(dirname -- "$0"); export OHFP_SCRIPT_DIR
ohfp_bin=${OHFP_BIN:-$OHFP_SCRIPT_DIR/ohfp}
if [ -z "${OHFP_BIN:-}" ] && [ ! -x "$ohfp_bin" ]; then
  ohfp_bin=$OHFP_SCRIPT_DIR/../bin/ohfp
fi
if [ -f "$ohfp_bin" ] && [ -x "$ohfp_bin" ]; then
  exec "$ohfp_bin" hf "$ohfp_op" "$@"
fi
ohfp_dir=$(cd -- "$OHFP_SCRIPT_DIR" && pwd -P)
if [ -n "${OHFP_BIN:-}" ]; then
  set -- "OHFP_BIN=$OHFP_BIN"
else
  set -- "$ohfp_dir/ohfp" "$(dirname -- "$ohfp_dir")/bin/ohfp"
fi
ohfp_quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }
ohfp_tried=$(for p in "$@"; do ohfp_quote "$p"; printf ,; done)
ohfp_msg="no executable ohfp binary: looked for $(printf '%s, ' "$@" | sed 's/, $//'); run make build in a checkout, copy ohfp beside the scripts, or set OHFP_BIN"
echo "$ohfp_op: $ohfp_msg" >&2
printf '{"message":%s,"error":{"code":"CONFIGURATION_ERROR","message":%s,"details":{"tried":[%s]}}}\n' \
  "$(ohfp_quote "$ohfp_msg")" "$(ohfp_quote "$ohfp_msg")" "${ohfp_tried%,}"
exit 1
