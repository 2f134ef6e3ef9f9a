#!/bin/bash
# Runs once on each new host (EC2 user data). ohfp passes the template's
# userData pairs (k=v;k2=v2) to the host; this script joins it to the cluster.
set -euo pipefail
echo "joining Symphony cluster ${SYMPHONY_CLUSTER:-default} as ${HF_ROLE:-compute}" >> /var/log/hf-user-data.log
