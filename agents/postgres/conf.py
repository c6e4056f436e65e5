"""Pure renderings of PostgreSQL files: init script, pg_hba.conf, the conf.d files we own."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from agents.base import SUPERUSER, ServerSetting

PG_UID = PG_GID = 999
BASE = "/var/lib/postgresql"
INIT_DIR = ".dbaas-init"


LOG_DIR = f"{BASE}/log"
TLS_CERT = "tls/server.crt"  # relative to the data directory
TLS_KEY = "tls/server.key"


def data_dir(major: str) -> str:
    return f"{BASE}/{major}/data"


def rel_data_dir(major: str) -> str:
    return f"{major}/data"


# No trust anywhere: a session on the socket (an OS user of the container) needs a password too.
HBA = """\
# Managed by the control plane.
local   all          all                      scram-sha-256
host    replication  _rdb_replicator  all      scram-sha-256
host    all          all              all      scram-sha-256
"""


def initdb_flags(options: Mapping[str, str]) -> str:
    """``--locale=C.UTF-8`` then the init settings as initdb options (``--lc-collate=C``)."""
    flags = ["--locale=C.UTF-8"] + [f"--{name}={value}" for name, value in sorted(options.items())]
    return " ".join(shlex.quote(f) for f in flags)


def init_script(major: str, options: Mapping[str, str]) -> str:
    """initdb into a temporary directory, then rename: a killed init leaves no half cluster."""
    data = data_dir(major)
    return f"""\
set -eu
DATA={data}
INIT={BASE}/{INIT_DIR}
if [ -s "$DATA/PG_VERSION" ]; then rm -rf "$INIT"; echo "cluster exists"; exit 0; fi
rm -rf "$DATA.init"
mkdir -p "$(dirname "$DATA")"
initdb -D "$DATA.init" --username={SUPERUSER} --pwfile="$INIT/pwfile" \\
  --auth-local=trust --auth-host=scram-sha-256 --data-checksums -E UTF8 \\
  {initdb_flags(options)} >/dev/null
echo "include_dir = 'conf.d'" >> "$DATA.init/postgresql.conf"
mkdir -p "$DATA.init/conf.d"
cp "$INIT/pg_hba.conf" "$DATA.init/pg_hba.conf"
sync
mv "$DATA.init" "$DATA"
rm -rf "$INIT"
echo "cluster initialised"
"""


def shared_buffers_mb(memory_bytes: int) -> int:
    return max(32, memory_bytes // (4 * 1024 * 1024))


def base_conf(memory_bytes: int) -> str:
    return f"""\
# Managed by the control plane: do not edit.
listen_addresses = '*'
port = 5432
unix_socket_directories = '/var/run/postgresql'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'dbaas_guard'
shared_buffers = '{shared_buffers_mb(memory_bytes)}MB'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
wal_log_hints = on
logging_collector = on
log_directory = '{LOG_DIR}'  # on the volume, outside the data directory: kept across rebuilds
log_filename = 'postgresql-%Y-%m-%d.log'
log_rotation_age = '1d'
log_rotation_size = 0
log_truncate_on_rotation = off
log_line_prefix = '%m [%p] %q%u@%d '
ssl = on
ssl_cert_file = '{TLS_CERT}'
ssl_key_file = '{TLS_KEY}'
ssl_min_protocol_version = 'TLSv1.2'
"""


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def settings_conf(settings: list[ServerSetting]) -> str:
    lines = ["# User settings (Instance.settings), managed by the control plane."]
    lines += [f"{s.name} = {quote(s.value)}" for s in sorted(settings, key=lambda s: s.name)]
    return "\n".join(lines) + "\n"
