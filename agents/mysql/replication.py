"""MySQL-family replication, rendered as pure functions: role options, statements, the clone.

Verified on MariaDB 10.11 and 11.8; the MySQL 8 names come from ``flavors`` (documentation only).

* Every node writes a binlog with ``log_slave_updates`` and ``gtid_strict_mode`` (``conf``) and has
  its own ``server_id`` (drawn by the init script, or by the clone script below), so any standby
  can become the primary and the others can follow it by GTID.
* The primary replicates semi-synchronously to its HA standby with ``wait_point=AFTER_SYNC``:
  a commit returns once the standby has written it to its relay log (received, not applied).
  Semi-sync is on only while the control plane names sync standbys, with a timeout of ~50 days
  and ``wait_no_slave=ON``: MariaDB never falls back to asynchronous on its own (that would
  silently break "an acknowledged commit is on the standby"); the HA monitor degrades explicitly
  by rendering the primary without sync standbys, which releases waiting commits at once.
* Standbys and read replicas are ``read_only`` and follow ``role.primary_host`` by GTID
  (``MASTER_USE_GTID=slave_pos``); only standbys enable the semi-sync replica side.
* The primary cannot tell which replica a semi-sync connection belongs to, nor whether a
  replica is still alive (a killed replica's binlog dump connection lingers until TCP gives up),
  and MariaDB waits for ONE acknowledgement from ANY semi-sync replica. ``replication_state``
  therefore asks each dump peer directly (its name, receiver, semi-sync status, received GTIDs):
  a follower streams when it answers that it receives, and is synchronous only when it is the one
  and only semi-sync client and has received everything the primary had binlogged
  (``standby_states``). Stale dump connections are killed before a copy follows the primary.
* Followers connect to their primary over TLS (``source_tls_options``) and verify its certificate
  against their own copy of the instance's self-signed certificate (the chain, not the host name:
  the certificate names the addresses users connect to, not ``n1``). A renewal replaces the files
  on every node and re-reads them (``Flavor.tls_reload``); running replication connections keep
  their session, and the receiver re-reads the CA file on every connection attempt, so a
  reconnect made while only some nodes have the new pair fails and succeeds on a retry a second
  later, once they all have it. The clone's dump connection is encrypted too, not verified (the
  one-shot container has no copy of the certificate; MariaDB 11.4+ clients verify the server
  through the password anyway).
* A new standby starts from a consistent ``mariadb-dump`` of the primary (``clone_script``), not
  from mariadb-backup: mariadb-backup copies files from the primary's datadir, which the one-shot
  clone container (on the instance network, with only its own volume) cannot see. A logical dump
  is fast enough at our sizes (about 1 s for a few MB) and also copies the ``mysql`` schema, so
  every account, the replication one included, exists on every node after a failover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from agents.base import Role, StandbyState
from agents.mysql.conf import BASE, DATA_DIR, INIT_FILE, PORT, TLS_CERT, option_value
from agents.mysql.flavors import Flavor
from agents.mysql.sql import account, quote_string

REPLICATOR = "_rdb_replicator"
CLONE_DIR = ".dbaas-clone"
# Milliseconds: the largest value whose nanoseconds still fit the server's 64-bit deadline
# arithmetic (about 50 days; verified to keep waiting, and to release on disable).
SEMI_SYNC_TIMEOUT_MS = 4294967295
HEARTBEAT_SECONDS = 1  # the primary notices a vanished replica within seconds, even when idle
CONNECT_RETRY_SECONDS = 1
STATIC_OPTIONS = frozenset({"report_host"})  # read at startup only
HELP_TABLES = ("help_category", "help_keyword", "help_relation", "help_topic")
SOURCE_CA = f"{BASE}/{TLS_CERT}"  # the follower's own copy of the instance certificate


def role_options(flavor: Flavor, role: Role) -> dict[str, str]:
    """Options for a node in ``role``; ``apply_order`` says how to set them on a live server."""
    semi = flavor.semi_sync
    primary = role.kind == "primary"
    read_only = "OFF" if primary else "ON"
    return {
        "report_host": role.node,  # how the primary names this node in SHOW SLAVE HOSTS
        **flavor.semi_sync_options,
        **{name: read_only for name in reversed(flavor.read_only_variables)},
        semi.wait_point: "AFTER_SYNC",
        semi.timeout: str(SEMI_SYNC_TIMEOUT_MS),
        semi.wait_no_replica: "ON",
        semi.primary_enabled: "ON" if primary and role.sync_standbys else "OFF",
        semi.replica_enabled: "ON" if role.kind == "standby" else "OFF",
    }


def role_cnf(flavor: Flavor, role: Role) -> str:
    """The role's option-file section (the agent appends it to ``conf.BASE_FILE``)."""
    lines = [
        "# Replication role, managed by the control plane: do not edit.",
        f"# {role.node} is a {role.kind}"
        + (f" following {role.primary_host}." if role.primary_host else "."),
        f"[{flavor.option_group}]",
        *(f"{name} = {option_value(value)}" for name, value in role_options(flavor, role).items()),
    ]
    return "\n".join(lines) + "\n"


def runtime_settings(flavor: Flavor, role: Role) -> list[tuple[str, str]]:
    """The role's dynamic options in a safe order for ``SET GLOBAL``.

    Switching semi-sync off comes first, so commits waiting for an acknowledgement are released
    before anything else happens; switching it on comes last, once its parameters are in place.
    """
    options = role_options(flavor, role)
    enabled = flavor.semi_sync.primary_enabled
    settings = [
        (name, value)
        for name, value in options.items()
        if name not in STATIC_OPTIONS and name not in flavor.semi_sync_options and name != enabled
    ]
    if options[enabled] == "OFF":
        return [(enabled, "OFF"), *settings]
    return [*settings, (enabled, options[enabled])]


# --- statements -----------------------------------------------------------------------------


def _source_options(flavor: Flavor, options: Mapping[str, str]) -> str:
    prefix = flavor.source_option_prefix
    return ", ".join(f"{prefix}_{name}={value}" for name, value in options.items())


def source_tls_options() -> dict[str, str]:
    """TLS to the primary, its certificate verified against the follower's copy of it. The
    host name is not checked: the certificate does not name the nodes (``n1``), and only the
    holder of this instance's key can present it."""
    return {"SSL": "1", "SSL_CA": quote_string(SOURCE_CA), "SSL_VERIFY_SERVER_CERT": "0"}


def source_tls_status(flavor: Flavor) -> dict[str, str]:
    """What the replica status shows once ``source_tls_options`` are in place."""
    allowed, ca, verify = flavor.source_tls_columns
    return {allowed: "Yes", ca: SOURCE_CA, verify: "No"}


def source_tls(flavor: Flavor) -> str:
    """Switch an existing follower to ``source_tls_options`` (a follower copied before them)."""
    return f"{flavor.change_source} {_source_options(flavor, source_tls_options())}"


def follow(flavor: Flavor, host: str, password: str) -> str:
    """Follow ``host`` by GTID, from scratch (the clone; the password is a secret)."""
    options = {
        "HOST": quote_string(host),
        "PORT": str(PORT),
        "USER": quote_string(REPLICATOR),
        "PASSWORD": quote_string(password),
        "CONNECT_RETRY": str(CONNECT_RETRY_SECONDS),
        "HEARTBEAT_PERIOD": str(HEARTBEAT_SECONDS),
        **source_tls_options(),
    }
    return f"{flavor.change_source} {_source_options(flavor, options)}, {flavor.gtid_auto_position}"


def repoint(flavor: Flavor, host: str) -> str:
    """Follow another primary; the user, password and other settings carry over."""
    options = {"HOST": quote_string(host), "PORT": str(PORT)}
    return f"{flavor.change_source} {_source_options(flavor, options)}, {flavor.gtid_auto_position}"


def create_replicator(flavor: Flavor, verifier_sql: str) -> list[str]:
    """``verifier_sql`` is ``sql.identified_by_hash``'s output."""
    who = account(REPLICATOR)
    return [
        f"CREATE USER IF NOT EXISTS {who} {verifier_sql}",
        f"ALTER USER {who} {verifier_sql}",
        f"GRANT {', '.join(flavor.replicator_privileges)} ON *.* TO {who}",
    ]


def wait_applied(flavor: Flavor) -> str:
    """Parameters: the received position and a timeout in seconds; 0 means applied."""
    return f"SELECT {flavor.wait_applied}(%s, %s)"


# --- what the primary reports ----------------------------------------------------------------


@dataclass(frozen=True)
class PrimaryView:
    """One look at the primary: its registered replicas and its semi-sync state."""

    followers: tuple[str, ...]  # report_host of each registered replica (duplicates possible)
    dump_threads: tuple[tuple[int, str], ...]  # (connection id, peer IP) of binlog dumps
    semi_sync_on: bool  # commits wait for an acknowledgement
    semi_sync_clients: int
    binlog_position: str  # @@gtid_binlog_pos when the view was taken
    binlogs: tuple[tuple[str, int], ...] = ()  # SHOW BINARY LOGS: (name, size), oldest first

    @property
    def dump_addresses(self) -> list[str]:
        return sorted({address for _, address in self.dump_threads})


class Silence(Enum):
    """Why a dump peer gave no view of itself."""

    UNREACHABLE = "unreachable"  # no TCP connection: nothing listens there any more
    NO_ANSWER = "no answer"  # connected, but no answer in time (busy, out of connections)


@dataclass(frozen=True)
class FollowerView:
    """A replica, asked directly: its name, whether it receives and acknowledges, and what it
    has received."""

    node: str
    receiving: bool  # its receiver (IO thread) is connected
    semi_sync: bool  # ... and negotiated semi-sync
    received: str
    applied_file: str = ""  # the primary's binlog file and offset its applier has reached
    applied_offset: int = 0


Probe = FollowerView | Silence


def standby_states(view: PrimaryView, probes: Mapping[str, Probe]) -> dict[str, StandbyState]:
    """The registered followers, by name, from the primary's view and each dump peer's answer.

    Streaming: registered with the primary, and not known dead. The registration alone is not
    enough: the binlog dump connection of a killed replica stays registered until TCP gives up
    (many minutes), because the dump thread only writes to it. A follower whose peer answers
    streams if its receiver runs; one whose peer is unreachable does not; while some peer is
    connected but silent (busy), the unmatched registrations are given the benefit of the doubt.

    Synchronous: MariaDB waits for ONE acknowledgement from ANY semi-sync client, so a follower
    is synchronous only if it is the one and only semi-sync client of a primary whose commits
    wait, and has received everything the primary had binlogged. A stale semi-sync connection
    (a killed standby's) counts as a client too: nobody is synchronous until it is gone.
    """
    registered = set(view.followers)
    answering = [p for p in probes.values() if isinstance(p, FollowerView) and p.node in registered]
    streaming = {p.node for p in answering if p.receiving}
    if any(p is Silence.NO_ANSWER for p in probes.values()):
        streaming |= registered - {p.node for p in answering}
    acknowledging = [p for p in answering if p.receiving and p.semi_sync]
    sync = None
    if view.semi_sync_on and view.semi_sync_clients == 1 and len(acknowledging) == 1:
        only = acknowledging[0]
        if covers(only.received, view.binlog_position):
            sync = only.node
    lag = {
        p.node: replay_lag_bytes(view.binlogs, p.applied_file, p.applied_offset) for p in answering
    }
    return {
        name: StandbyState(
            name, streaming=name in streaming, synchronous=name == sync, lag_bytes=lag.get(name)
        )
        for name in sorted(registered)
    }


def stale_dump_threads(view: PrimaryView, probes: Mapping[str, Probe]) -> list[int]:
    """Binlog dump connections whose peer is unreachable: what a killed replica left."""
    return [
        thread
        for thread, address in view.dump_threads
        if probes.get(address, Silence.UNREACHABLE) is Silence.UNREACHABLE
    ]


def granted_privileges(grants: Sequence[str]) -> set[str]:
    """The global privileges in ``SHOW GRANTS`` lines (``GRANT A, B ON *.* TO ...``)."""
    for line in grants:
        head, on, _ = line.partition(" ON *.* TO ")
        if on and head.startswith("GRANT "):
            return {p.strip() for p in head.removeprefix("GRANT ").split(",")}
    return set()


def replay_lag_bytes(binlogs: Sequence[tuple[str, int]], file: str, offset: int) -> int | None:
    """Bytes of the primary's binlog written after what a follower has applied; None when its
    position is not in the primary's binlog (it followed another primary until now)."""
    names = [name for name, _ in binlogs]
    if file not in names:
        return None
    index = names.index(file)
    return max(0, binlogs[index][1] - offset + sum(size for _, size in binlogs[index + 1 :]))


def parse_gtid_position(text: str) -> dict[int, int]:
    """``0-1-12,1-3-7`` -> ``{0: 12, 1: 7}`` (domain -> sequence number)."""
    result: dict[int, int] = {}
    for item in text.replace("\n", "").split(","):
        item = item.strip()
        if not item:
            continue
        domain, _server, seq = item.split("-")
        result[int(domain)] = max(int(seq), result.get(int(domain), 0))
    return result


def covers(position: str, wanted: str) -> bool:
    """True when ``position`` includes every domain of ``wanted`` at least as far."""
    have = parse_gtid_position(position)
    return all(have.get(domain, -1) >= seq for domain, seq in parse_gtid_position(wanted).items())


def dump_address(host: str) -> str | None:
    """The IP address of a processlist ``Host`` (``172.18.0.3:41234``, ``[fd00::3]:41234``)."""
    if not host or host == "localhost":
        return None
    address = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    return address.strip("[]") or None


# --- the clone ----------------------------------------------------------------------------


def client_cnf(host: str, password: str) -> str:
    """Option file the clone's dump client reads (0600: it holds the replication password)."""
    return (
        "[client]\n"
        f"host = {option_value(host)}\n"
        f"port = {PORT}\n"
        f"user = {option_value(REPLICATOR)}\n"
        f"password = {option_value(password)}\n"
        "ssl\n"  # encrypted, between our own containers on a network of their own;
        # not verified: 11.4+ clients verify by default, which an older server (the source of a
        # major upgrade) cannot satisfy through the password, and the certificate names the
        # addresses users connect to, not the node
        "skip-ssl-verify-server-cert\n"
    )


def clone_script(flavor: Flavor, role: Role) -> str:
    """Replace the node's data with a consistent copy of ``role.primary_host`` that follows it.

    Builds ``data.clone`` with an empty system schema, starts a temporary server on it (socket
    only, no binlog: the loaded rows must not become this node's own GTIDs), loads a
    single-transaction dump that carries the primary's GTID position, points replication at the
    primary, shuts down cleanly, then swaps ``data.clone`` into place and draws a new
    ``server_id``. The temporary server sees the datadir at its final path (``data`` is a symlink
    to ``data.clone`` meanwhile), because the relay-log index stores absolute paths. Any previous
    content is discarded and a re-run starts over.
    """
    if flavor.name != "mariadb":
        raise ValueError("the clone is implemented for MariaDB only")
    work = f"{BASE}/{CLONE_DIR}"
    skip = " ".join(f"--ignore-table=mysql.{table}" for table in HELP_TABLES)
    return f"""\
set -euo pipefail
BASE={BASE}
DATA={DATA_DIR}
WORK={work}
SOCK=$WORK/mysqld.sock
PRIMARY="--defaults-extra-file=$WORK/primary.cnf"
fail() {{ echo "clone failed: $*" >&2; cat "$WORK"/*.log >&2 2>/dev/null || true; exit 1; }}
stop_server() {{
  if [ -n "${{PID:-}}" ] && kill -0 "$PID" 2>/dev/null; then
    mariadb-admin --socket="$SOCK" shutdown 2>/dev/null || kill "$PID"
    wait "$PID" || true
  fi
}}
trap stop_server EXIT
rm -rf "$DATA" "$DATA.clone" "$BASE/{INIT_FILE}"
mkdir -p "$BASE/conf" "$BASE/log"
FACTS=$(mariadb $PRIMARY -N -B -e "SELECT @@server_id, @@lower_case_table_names") \\
  || fail "primary {role.primary_host} unreachable"
read -r PRIMARY_ID LOWER_CASE <<<"$FACTS"
SERVER_ID=$PRIMARY_ID
while [ "$SERVER_ID" = "$PRIMARY_ID" ]; do
  SERVER_ID=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 4294967294 + 1 ))
done
mariadb-install-db --no-defaults --user=mysql --skip-test-db \\
  --auth-root-authentication-method=socket --datadir="$DATA.clone" \\
  >"$WORK/install.log" 2>&1 || fail "install"
ln -s data.clone "$DATA"
mariadbd --no-defaults --datadir="$DATA" --socket="$SOCK" --pid-file="$WORK/mysqld.pid" \\
  --skip-networking --skip-log-bin --skip-slave-start --server-id="$SERVER_ID" \\
  --relay-log="$DATA/relay" --lower-case-table-names="$LOWER_CASE" \\
  --max-allowed-packet=1G --log-error="$WORK/server.log" &
PID=$!
for _ in $(seq 1 300); do
  mariadb-admin --socket="$SOCK" ping >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || fail "temporary server exited"
  sleep 0.1
done
mariadb-admin --socket="$SOCK" ping >/dev/null 2>&1 || fail "temporary server did not start"
mariadb-dump $PRIMARY --all-databases --single-transaction --gtid --master-data=1 \\
  --routines --events --triggers --hex-blob --default-character-set=utf8mb4 \\
  --max-allowed-packet=1G {skip} \\
  | mariadb --socket="$SOCK" --default-character-set=utf8mb4 --max-allowed-packet=1G \\
  || fail "copy from {role.primary_host}"
{_after_load(role)}
POSITION=$(mariadb --socket="$SOCK" -N -B -e "SELECT @@gtid_slave_pos")
stop_server
PID=
trap - EXIT
{{ echo "# Drawn when the data directory was cloned: never edit."
  echo "[{flavor.option_group}]"; echo "server_id = $SERVER_ID"; }} >"$WORK/05-init.cnf"
chmod 0644 "$WORK/05-init.cnf"
sync
rm "$DATA"
mv "$DATA.clone" "$DATA"
mv "$WORK/05-init.cnf" "$BASE/{INIT_FILE}"
rm -rf "$WORK"
echo "cloned from {role.primary_host} at GTID $POSITION (server_id $SERVER_ID)"
"""


def _after_load(role: Role) -> str:
    """A follower starts replicating; a copy stays alone, its system tables upgraded when they
    come from an older major version (the documented path: load, then mariadb-upgrade)."""
    if role.kind != "copy":
        return f'mariadb --socket="$SOCK" <"$WORK/follow.sql" || fail "follow {role.primary_host}"'
    if role.upgrade:
        return (
            # as the OS account, which the socket authenticates (mariadb-upgrade defaults to root)
            'mariadb-upgrade --socket="$SOCK" --user="$(id -un)" --force >"$WORK/upgrade.log" 2>&1 '
            '|| fail "mariadb-upgrade"'
        )
    return ":"


def follow_sql(flavor: Flavor, role: Role, password: str) -> str:
    """Run by the clone on the loaded copy: the dump set the GTID position, this sets the rest."""
    if role.primary_host is None:
        raise ValueError(f"{role.node} has no primary to follow")
    statements = [
        "SET GLOBAL gtid_slave_pos = @@gtid_slave_pos",  # rewrite the table the dump replaced
        follow(flavor, role.primary_host, password),
    ]
    return "".join(f"{s};\n" for s in statements)
