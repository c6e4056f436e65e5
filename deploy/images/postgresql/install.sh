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

# dbaas_guard (see dbaas_guard.c), loaded by every server: built against this PostgreSQL's own
# server headers with a compiler that is removed again.
HERE=$(cd "$(dirname "$0")" && pwd)
dbaas_install gcc libc6-dev
GUARD=$(mktemp -d)
(cd "$GUARD" && apt-get download -q "postgresql-server-dev-$PG_MAJOR" && dpkg-deb -x ./*.deb dev)
gcc -O2 -Wall -Werror -fPIC -shared -I "$GUARD/dev/usr/include/postgresql/$PG_MAJOR/server" \
    -o "/usr/lib/postgresql/$PG_MAJOR/lib/dbaas_guard.so" "$HERE/dbaas_guard.c"
rm -rf "$GUARD"
apt-get purge -y -q gcc libc6-dev
apt-get autoremove --purge -y -q
[ -f "/usr/lib/postgresql/$PG_MAJOR/lib/dbaas_guard.so" ] || die "dbaas_guard not built"
[ ! -e /usr/bin/gcc ] || die "the compiler is still installed"

install -d -o postgres -g postgres -m 0755 /var/lib/postgresql
install -d -o postgres -g postgres -m 0700 "/var/lib/postgresql/$PG_MAJOR"
install -d -o postgres -g postgres -m 2775 /run/postgresql
install -d -o postgres -g postgres -m 0750 /var/lib/dbaas
dbaas_end
