#!/bin/bash
# Installs HAProxy $HAPROXY_VERSION from Debian into the current root (see ../common/lib.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
. "$(dirname "$0")/lib.sh"
: "${HAPROXY_VERSION:?HAPROXY_VERSION is required}"

dbaas_begin
dbaas_install haproxy ca-certificates tzdata
dbaas_require_version haproxy "$HAPROXY_VERSION"
install -d -m 0755 /usr/local/etc/haproxy   # the control plane puts haproxy.cfg here
dbaas_end
