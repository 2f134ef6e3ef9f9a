#!/bin/bash
# User data for an LSF dynamic host launched by the LSF resource connector
# through ohfp. It follows IBM's example_user_data.sh for the AWS plugin
# (IBMSpectrumComputing/cloud-provider-plugins): the same placeholder, the
# same variables (rc_account, template_id, clustername, providerName), the
# same resources reported in LSF_LOCAL_RESOURCES. It makes the binaries
# available, sets the master list, starts the daemons as a dynamic host, and
# waits until the master lists the host. See docs/user-data.md.
set -euo pipefail
exec >>"${USER_DATA_LOG:-/var/log/ohfp-user-data.log}" 2>&1
echo "ohfp user data: start $(date -u +%FT%TZ)"

# The template's userData pairs (and, under LSF, the request's), as export
# lines (ohfp replaces this line).
%EXPORT_USER_DATA%

: "${LSF_TOP:=/opt/lsf}"
: "${LSF_VERSION:=10.1}"
: "${LSF_MASTER_LIST:?set LSF_MASTER_LIST in the template userData}"
: "${LSF_EXTERNAL_HOST_FLAG:=awshost}"  # the Boolean resource named by LSB_RC_EXTERNAL_HOST_FLAG
lsf_conf=$LSF_TOP/conf/lsf.conf

# 1. Binaries: baked into the image, or mounted from a share.
if [ -n "${LSF_NFS:-}" ] && ! mountpoint -q "$LSF_TOP"; then
  mkdir -p "$LSF_TOP"
  mount -t nfs -o vers=4.1 "$LSF_NFS" "$LSF_TOP"
fi
if [ ! -f "$lsf_conf" ]; then
  echo "ohfp user data: no LSF installation under $LSF_TOP" >&2
  exit 1
fi

# 2. Master list, and the resources this host reports when it joins.
sed -i '/^LSF_MASTER_LIST=/d' "$lsf_conf"
echo "LSF_MASTER_LIST=\"$LSF_MASTER_LIST\"" >>"$lsf_conf"
resources="[resource $LSF_EXTERNAL_HOST_FLAG]"
token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token || true)
metadata() { curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1" || true; }
instance_id=$(metadata instance-id)
vm_type=$(metadata instance-type)
for pair in "${rc_account:-}:rc_account" "$instance_id:instanceID" "$vm_type:vm_type" \
  "${template_id:-}:templateID" "${clustername:-}:clusterName" "${providerName:-}:providerName"; do
  value=${pair%:*}
  [ -n "$value" ] && resources="$resources [resourcemap $value*${pair##*:}]"
done
sed -i '/^LSF_LOCAL_RESOURCES=/d' "$lsf_conf"
echo "LSF_LOCAL_RESOURCES=\"$resources\"" >>"$lsf_conf"

# 3. Daemons: install LSF's boot scripts for a dynamic host and start them.
"$LSF_TOP/$LSF_VERSION/install/hostsetup" --top="$LSF_TOP" --boot="y" --start="y" --dynamic

# 4. Readiness: the master lists the host once it has joined.
# shellcheck disable=SC1091
. "$LSF_TOP/conf/profile.lsf"
me=$(hostname)
for _ in $(seq 60); do
  if lshosts "$me" >/dev/null 2>&1; then
    echo "ohfp user data: $me joined ${clustername:-the cluster} at $(date -u +%FT%TZ)"
    exit 0
  fi
  sleep 5
done
echo "ohfp user data: $me is not in the cluster after 5 minutes" >&2
exit 1
