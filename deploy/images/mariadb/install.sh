#!/bin/bash
# Installs MariaDB $MARIADB_VERSION from Debian into the current root (see ../common/lib.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
. "$(dirname "$0")/lib.sh"
: "${MARIADB_VERSION:?MARIADB_VERSION is required}"

dbaas_begin
dbaas_add_user mysql 999 /nonexistent /bin/false
dbaas_install mariadb-server mariadb-client mariadb-backup ca-certificates tzdata locales
dbaas_require_version mariadb-server "$MARIADB_VERSION"

rm -rf /var/lib/mysql   # the postinst's pre-made datadir (~100 MB); install-db makes a fresh one
install -d -o mysql -g mysql -m 0750 /var/lib/mysql
install -d -o mysql -g mysql -m 0755 /run/mysqld
install -d -o mysql -g mysql -m 0750 /var/lib/dbaas
dbaas_end
