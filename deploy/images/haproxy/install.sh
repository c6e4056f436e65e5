#!/bin/bash
# Installs HAProxy $HAPROXY_VERSION from Debian into the current root (see ../common/lib.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
. "$(dirname "$0")/lib.sh"
: "${HAPROXY_VERSION:?HAPROXY_VERSION is required}"

dbaas_begin
# A fixed uid: the control plane gives it the host directory of the runtime socket.
dbaas_add_user haproxy 998 /var/lib/haproxy /usr/sbin/nologin
dbaas_install haproxy ca-certificates tzdata
dbaas_require_version haproxy "$HAPROXY_VERSION"
install -d -m 0755 /usr/local/etc/haproxy   # the control plane puts haproxy.cfg here
install -d -o haproxy -g haproxy -m 0700 /run/haproxy-admin   # runtime socket (bind-mounted)
dbaas_end
