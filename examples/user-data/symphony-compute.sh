#!/bin/bash
# User data for a Symphony compute host launched by HostFactory through ohfp.
# It makes the binaries available, joins the cluster through the primary
# host, starts EGO, and waits until the host is known to the cluster.
# See docs/user-data.md for the template fields and for debugging.
set -euo pipefail
exec >>"${USER_DATA_LOG:-/var/log/ohfp-user-data.log}" 2>&1
echo "ohfp user data: start $(date -u +%FT%TZ)"

# The template's userData pairs, as export lines (ohfp replaces this line).
%EXPORT_USER_DATA%

: "${EGO_TOP:=/opt/ibm/spectrumcomputing}"
: "${CLUSTERADMIN:=egoadmin}"
: "${EGO_MASTER_LIST:?set EGO_MASTER_LIST in the template userData}"

# 1. Binaries: baked into the image, or mounted read-only from a share.
if [ -n "${SYMPHONY_NFS:-}" ] && ! mountpoint -q "$EGO_TOP"; then
  mkdir -p "$EGO_TOP"
  mount -t nfs -o ro,vers=4.1 "$SYMPHONY_NFS" "$EGO_TOP"
fi
if [ ! -f "$EGO_TOP/profile.platform" ]; then
  echo "ohfp user data: no Symphony installation under $EGO_TOP" >&2
  exit 1
fi
id "$CLUSTERADMIN" >/dev/null

# 2. Master list: join the cluster through the first host of the list; the
#    others are candidates EGO learns from the primary.
# shellcheck disable=SC1091
. "$EGO_TOP/profile.platform"
primary=${EGO_MASTER_LIST%% *}
su "$CLUSTERADMIN" -c "egoconfig join $primary -f"

# 3. Daemons: start EGO now (as root, so that LIM can start the other
#    daemons), and at every boot.
if command -v egosetrc.sh >/dev/null; then
  egosetrc.sh || echo "ohfp user data: egosetrc.sh failed; EGO will not start at boot"
fi
egosh ego start -f

# 4. Readiness: HostFactory sees the host once the primary lists it. Wait
#    for that, so that the log says whether the join worked.
me=$(hostname -f)
for _ in $(seq 60); do
  if egosh resource list -l "$me" 2>/dev/null | grep -q "$me"; then
    echo "ohfp user data: $me joined ${CLUSTERNAME:-the cluster} at $(date -u +%FT%TZ)"
    exit 0
  fi
  sleep 5
done
echo "ohfp user data: $me is not in the cluster after 5 minutes" >&2
exit 1
