"""Pure renderings of MySQL-family files: the init script and the option files we own.

Volume layout (the node volume is mounted at ``BASE``)::

    my.cnf              main option file: only ``!includedir conf`` (the server's --defaults-file,
                        so the image's /etc/mysql, which pins collation_server, is never read)
    conf/00-dbaas.cnf   what the control plane owns (rewritten by config_files)
    conf/05-init.cnf    init settings and server_id, written ONCE with the data directory
    conf/10-settings.cnf  the user settings (rewritten by config_files)
    tls/server.crt      the instance's self-signed certificate, also its own trust anchor
    tls/server.key      its key (0600)
    data/               the datadir and binlogs: nothing else may live there, because every
                        sub-directory of a datadir is a database
    log/                error, slow and general logs
    .dbaas-init/        the one-shot init's files; removed when it succeeds

``server_id`` must differ between nodes that replicate from each other, and nothing node-specific
reaches ``config_files``; the init script therefore draws it at random (32 bits) when it creates
the data directory and keeps it in ``conf/05-init.cnf``, so it is stable for the datadir's life.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agents.base import ServerSetting
from agents.mysql.flavors import Flavor

UID = GID = 999
BASE = "/var/lib/mysql"
DATA_DIR = f"{BASE}/data"
CONF_DIR = f"{BASE}/conf"
LOG_DIR = f"{BASE}/log"
INIT_DIR = ".dbaas-init"
MAIN_FILE = "my.cnf"
BASE_FILE = "conf/00-dbaas.cnf"
INIT_FILE = "conf/05-init.cnf"
SETTINGS_FILE = "conf/10-settings.cnf"
TLS_CERT = "tls/server.crt"  # relative to BASE: outside the datadir
TLS_KEY = "tls/server.key"
TLS_VERSIONS = "TLSv1.2,TLSv1.3"
SOCKET = "/run/mysqld/mysqld.sock"
PORT = 3306

MIB = 1024 * 1024
BUFFER_POOL_MIN = 128 * MIB
BUFFER_POOL_MAX = 64 * 1024 * MIB


def main_cnf() -> str:
    return f"# Managed by the control plane: do not edit.\n!includedir {CONF_DIR}\n"


def buffer_pool_bytes(memory_bytes: int) -> int:
    """Half the node's memory, in whole MiB, between 128 MiB and 64 GiB."""
    half = memory_bytes // 2 // MIB * MIB
    return max(BUFFER_POOL_MIN, min(half, BUFFER_POOL_MAX))


def option_value(value: str) -> str:
    """An option-file value, double-quoted (the parser strips the quotes, ``#`` stays literal)."""
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError(f"control character in option value {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section(group: str, options: Iterable[tuple[str, str]]) -> list[str]:
    return [f"[{group}]"] + [f"{name} = {option_value(value)}" for name, value in options]


def base_options(flavor: Flavor, memory_bytes: int) -> dict[str, str]:
    """The options the control plane owns, before user settings override any of them."""
    return {
        "datadir": DATA_DIR,
        "socket": SOCKET,
        "pid_file": "/run/mysqld/mysqld.pid",
        "bind_address": "0.0.0.0",
        "port": str(PORT),
        "skip_name_resolve": "ON",  # accounts are user@'%'; no DNS on the connect path
        "character_set_server": "utf8mb4",
        "innodb_buffer_pool_size": f"{buffer_pool_bytes(memory_bytes) // MIB}M",
        "log_bin": f"{DATA_DIR}/binlog",
        "relay_log": f"{DATA_DIR}/relay",
        "binlog_format": "ROW",
        "binlog_expire_logs_seconds": str(7 * 24 * 3600),
        flavor.replica_updates: "ON",
        **flavor.gtid_options,
        **flavor.extra_options,
        "log_error": f"{LOG_DIR}/error.log",
        "slow_query_log_file": f"{LOG_DIR}/slow.log",
        "general_log_file": f"{LOG_DIR}/general.log",
        **tls_options(),
    }


def tls_options() -> dict[str, str]:
    """The server's certificate and key (``ssl_*`` are read-only in MariaDB: the files are
    replaced in place, then ``Flavor.tls_reload``). The certificate is self-signed, so it is
    also the CA: replicas verify their primary against their own copy of it."""
    return {
        "ssl_cert": f"{BASE}/{TLS_CERT}",
        "ssl_key": f"{BASE}/{TLS_KEY}",
        "ssl_ca": f"{BASE}/{TLS_CERT}",
        "tls_version": TLS_VERSIONS,
    }


def base_cnf(flavor: Flavor, memory_bytes: int, overridden: Iterable[str] = ()) -> str:
    """``conf/00-dbaas.cnf``; options the user settings set are left to ``settings_cnf``."""
    skip = {_canonical(name) for name in overridden}
    options = [(k, v) for k, v in base_options(flavor, memory_bytes).items() if k not in skip]
    lines = [
        "# Managed by the control plane: do not edit.",
        *_section(flavor.option_group, options),
    ]
    return "\n".join(lines) + "\n"


def settings_cnf(flavor: Flavor, settings: list[ServerSetting]) -> str:
    ordered = sorted(settings, key=lambda s: s.name)
    lines = [
        "# User settings (Instance.settings), managed by the control plane.",
        *_section(flavor.option_group, [(s.name, s.value) for s in ordered]),
    ]
    return "\n".join(lines) + "\n"


def init_cnf(flavor: Flavor, options: Mapping[str, str]) -> str:
    """Init settings (``apply: initdb``): given to the install step and to the server forever."""
    lines = [
        "# Fixed when the data directory was created: never edit.",
        *_section(flavor.option_group, sorted(options.items())),
    ]
    return "\n".join(lines) + "\n"


def _canonical(name: str) -> str:
    return name.replace("-", "_")


def init_script(flavor: Flavor) -> str:
    """Install into ``data.init`` (superuser included, server offline), then rename.

    A re-run when ``data`` exists is a no-op; a run killed half-way leaves only ``data.init``,
    which the next run discards. The superuser's password hash comes from a 0600 SQL file.
    """
    return f"""\
set -eu
BASE={BASE}
DATA={DATA_DIR}
INIT=$BASE/{INIT_DIR}
if [ -d "$DATA" ]; then rm -rf "$INIT"; echo "datadir exists"; exit 0; fi
rm -rf "$DATA.init"
mkdir -p "$BASE/conf" "$BASE/log"
if ! {{
{flavor.install_db}
}}; then
  cat "$INIT/install.log" "$INIT/bootstrap.log" >&2 2>/dev/null || true
  exit 1
fi
SERVER_ID=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 4294967294 + 1 ))
{{ cat "$INIT/init.cnf"; echo "server_id = $SERVER_ID"; }} >"$INIT/05-init.cnf"
chmod 0644 "$INIT/05-init.cnf"
sync
mv "$INIT/05-init.cnf" "$BASE/{INIT_FILE}"
mv "$DATA.init" "$DATA"
rm -rf "$INIT"
echo "datadir initialised (server_id $SERVER_ID)"
"""
