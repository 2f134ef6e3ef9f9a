#!/bin/sh
# User data of every host ohfp launches for the LSF resource connector.
# ohfp replaces the line below with exports: the template's userData pairs,
# then rc_account, template_id, clustername and providerName.
# shellcheck disable=SC2288
%EXPORT_USER_DATA%

log=/var/log/ohfp-user-data.log
echo "ohfp user data: start $(date -u +%FT%TZ)" >>"$log"

# Where LSF is installed on the image; adjust to the site's.
LSF_TOP=${LSF_TOP:-/opt/lsf}
LSF_CONF=$LSF_TOP/conf/lsf.conf

# Report the host's resources through LSF_LOCAL_RESOURCES, so that it
# joins with the account, template, cluster and provider LSF asked for.
add_resource() { # value resource
	[ -n "$1" ] || return 0
	sed -i "s/^\(LSF_LOCAL_RESOURCES=\".*\)\"/\1 [resourcemap $1*$2]\"/" "$LSF_CONF"
	echo "ohfp user data: [resourcemap $1*$2]" >>"$log"
}
grep -q '^LSF_LOCAL_RESOURCES=' "$LSF_CONF" || echo 'LSF_LOCAL_RESOURCES=""' >>"$LSF_CONF"
add_resource "${rc_account:-}" rc_account
add_resource "${template_id:-}" templateID
add_resource "${clustername:-}" clusterName
add_resource "${providerName:-}" providerName
token=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
add_resource "$(curl -s -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)" instanceID

# Join the cluster as a dynamic host and start LSF at every boot.
"$LSF_TOP"/10.1/install/hostsetup --top="$LSF_TOP" --boot=y --start=y --dynamic >>"$log" 2>&1
echo "ohfp user data: end $(date -u +%FT%TZ)" >>"$log"
