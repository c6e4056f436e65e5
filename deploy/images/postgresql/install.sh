#!/bin/bash
# Installs PostgreSQL $PG_MAJOR from Debian into the current root (see ../common/lib.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
. "$(dirname "$0")/lib.sh"
: "${PG_MAJOR:?PG_MAJOR is required}"

dbaas_begin
dbaas_add_user postgres 999 /var/lib/postgresql /bin/bash
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/dbaas.conf
dbaas_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" ca-certificates tzdata locales
dbaas_require_version "postgresql-$PG_MAJOR" "$PG_MAJOR"
[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || die "postgres $PG_MAJOR binary missing"
[ ! -e "/etc/postgresql/$PG_MAJOR/main" ] || die "a main cluster was created"

install -d -o postgres -g postgres -m 0755 /var/lib/postgresql
install -d -o postgres -g postgres -m 0700 "/var/lib/postgresql/$PG_MAJOR"
install -d -o postgres -g postgres -m 2775 /run/postgresql
install -d -o postgres -g postgres -m 0750 /var/lib/dbaas
dbaas_end
