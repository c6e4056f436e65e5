"""Pure renderings of PostgreSQL files: init script, pg_hba.conf, the conf.d files we own."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from agents.base import SUPERUSER, ServerSetting

PG_UID = PG_GID = 999
BASE = "/var/lib/postgresql"
INIT_DIR = ".dbaas-init"


LOG_DIR = f"{BASE}/log"
# Completed WAL segments wait here (on the volume) until the worker stores them.
WAL_ARCHIVE_DIR = f"{BASE}/wal-archive"
WAL_RESTORE_DIR = f"{BASE}/wal-restore"  # a point-in-time restore's segments, until it ends
PITR_CONF = "conf.d/zz-pitr.conf"  # relative to the data directory, removed once recovered
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


# Copied under a temporary name then renamed: the worker never reads a partial segment. A
# segment already there (archived again after a crash) is the same segment.
ARCHIVE_COMMAND = (
    f"mkdir -p {WAL_ARCHIVE_DIR} && {{ test -f {WAL_ARCHIVE_DIR}/%f || "
    f"{{ cp %p {WAL_ARCHIVE_DIR}/%f.part && "
    f"mv {WAL_ARCHIVE_DIR}/%f.part {WAL_ARCHIVE_DIR}/%f; }}; }}"
)


def pitr_script(major: str, target_time: str, segments_dir: str) -> str:
    """Run in the new node's container over its restored data directory, before it starts:
    archive recovery from ``segments_dir`` up to ``target_time`` (UTC, PostgreSQL syntax), then
    promotion; the recovery settings and segments remove themselves once it ends."""
    data = data_dir(major)
    settings = "\n".join(
        f"{name} = {quote(value)}"
        for name, value in (
            ("restore_command", f"cp {WAL_RESTORE_DIR}/%f %p"),
            ("recovery_target_time", target_time),
            ("recovery_target_action", "promote"),
            ("recovery_target_timeline", "latest"),
            ("recovery_end_command", f"rm -rf {PITR_CONF} {WAL_RESTORE_DIR}"),
        )
    )
    return (
        f"set -eu; rm -rf {WAL_RESTORE_DIR} {WAL_ARCHIVE_DIR}; mkdir -p {WAL_RESTORE_DIR}; "
        f"cp -R {shlex.quote(segments_dir)}/. {WAL_RESTORE_DIR}/; "
        f"rm -f {data}/standby.signal; touch {data}/recovery.signal; "
        f"printf '%s\\n' {shlex.quote(settings)} > {data}/{PITR_CONF}; sync"
    )


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
archive_mode = on  # archives on the primary only: a standby starts once promoted
archive_command = {quote(ARCHIVE_COMMAND)}
archive_timeout = 60  # an idle instance loses at most a minute
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
