"""MySQL-family agent (MariaDB; MySQL 8 through ``flavors``): bootstrap, admin, config, health."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pymysql
from pymysql.cursors import Cursor

from agents import passwords
from agents.base import (
    DEFAULT_DATABASE,
    SUPERUSER,
    Activity,
    Connection,
    DatabaseInfo,
    EngineAgent,
    FileSpec,
    NodeRuntime,
    PhysicalCopy,
    PrivilegeInfo,
    Role,
    ServerSetting,
    StandbyState,
    UserInfo,
)
from agents.mysql import (
    admin_routines,
    conf,
    flavors,
    objects,
    physical,
    replication,
    replication_ops,
    sql,
)
from agents.mysql.flavors import Flavor
from controlplane.domain.failures import PermanentError, TemporaryError

CANT_CONNECT = 2003  # client error: no TCP connection (refused, unreachable, timed out)
PROBE_CONNECT_SECONDS = 0.25  # a follower on the instance network connects in well under 1 ms
PROBE_READ_SECONDS = 0.4
SILENT_LIMIT_SECONDS = 10.0
STATEMENT_SECONDS = 60.0

# Server error codes that retrying cannot fix: access denied (user, database, table, command),
# missing privilege, syntax error, unknown or read-only variable, wrong value, failed DCL.
_PERMANENT_CODES = frozenset(
    {1044, 1045, 1064, 1142, 1193, 1227, 1228, 1231, 1232, 1238, 1396, 1698}
)


def _translate(exc: pymysql.Error) -> Exception:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code in _PERMANENT_CODES or isinstance(exc, pymysql.ProgrammingError):
        return PermanentError(f"MySQL-family server refused ({code}): {message}")
    return TemporaryError(f"MySQL-family server not reachable ({code}): {message}")


@contextmanager
def connect(
    c: Connection, timeout: float = 5, read_timeout: float = STATEMENT_SECONDS
) -> Iterator[Cursor]:
    """A cursor on an autocommit connection; pymysql errors leave as Temporary/PermanentError.

    ``timeout`` bounds the TCP connect only; ``read_timeout`` bounds every read, the server's
    greeting included (through a load balancer whose backend died, the greeting never comes),
    and so every statement: a job is never stuck on one (a commit waiting for a dead standby's
    acknowledgement, say).
    """
    try:
        connection = pymysql.connect(
            host=c.host, port=c.port, user=c.user, password=c.password,
            connect_timeout=max(0.1, timeout), read_timeout=read_timeout,
            autocommit=True, charset="utf8mb4",
        )  # fmt: skip
        with connection, connection.cursor() as cursor:
            yield cursor
    except pymysql.Error as exc:
        raise _translate(exc) from exc


def _ensure_admin_routines(cursor: Cursor) -> None:
    """Written only when missing or outdated: every statement is binlogged and replicated."""
    cursor.execute(
        admin_routines.installed_version_query(),
        (admin_routines.SCHEMA, f"dbaas {admin_routines.version()}"),
    )
    row = cursor.fetchone()
    if row is not None and int(row[0]) == len(admin_routines.ROUTINES):
        return
    for statement in admin_routines.create_statements():
        cursor.execute(statement)


def _server_flavor(cursor: Cursor) -> Flavor:
    cursor.execute("SELECT VERSION()")
    row = cursor.fetchone()
    return flavors.for_server(str(row[0]) if row else "")


class MysqlAgent(EngineAgent):
    family = "mysql"

    def __init__(self) -> None:
        self._silent_since: dict[str, float] = {}  # follower address -> first silent probe

    def runtime(self, major_version: str) -> NodeRuntime:
        flavor = flavors.for_version(major_version)
        return NodeRuntime(
            data_mount=conf.BASE,
            uid=conf.UID,
            gid=conf.GID,
            user="mysql",
            port=conf.PORT,
            server_command=[flavor.server, f"--defaults-file={conf.BASE}/{conf.MAIN_FILE}"],
            init_command=["sh", f"{conf.BASE}/{conf.INIT_DIR}/init.sh"],
            # in every data directory (Aria holds system tables), small; renamed in last
            initialised=f"{conf.DATA_DIR.removeprefix(conf.BASE + '/')}/aria_log_control",
            version_command=[flavor.server, "--version"],
            log_dir="log",
            stop_signal="SIGTERM",  # clean shutdown; InnoDB may need a while to flush
            stop_timeout=120,
        )

    def init_files(
        self, major_version: str, superuser_password: str, init_settings: Mapping[str, str]
    ) -> dict[str, FileSpec]:
        flavor = flavors.for_version(major_version)
        own = {"uid": conf.UID, "gid": conf.GID}
        verifier = passwords.mysql_native(superuser_password)
        init = conf.INIT_DIR
        return {
            f"{init}/init.sh": FileSpec(conf.init_script(flavor).encode(), 0o700, **own),
            f"{init}/init.cnf": FileSpec(
                conf.init_cnf(flavor, init_settings).encode(), 0o600, **own
            ),
            f"{init}/superuser.sql": FileSpec(
                sql.create_superuser(flavor, verifier).encode(), 0o600, **own
            ),
        }

    def seeded_files(
        self, major_version: str, init_settings: Mapping[str, str]
    ) -> dict[str, FileSpec]:
        """A server_id of its own, as the init script draws one (1 .. 2**32 - 1)."""
        flavor = flavors.for_version(major_version)
        server_id = secrets.randbelow(2**32 - 1) + 1
        text = conf.init_cnf(flavor, init_settings) + f"server_id = {server_id}\n"
        return {conf.INIT_FILE: FileSpec(text.encode(), 0o644, uid=conf.UID, gid=conf.GID)}

    def set_superuser_password(self, conn: Connection, password: str) -> None:
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            cursor.execute("SET SESSION sql_log_bin = 0")  # this node's own bootstrap
            cursor.execute(sql.set_password(flavor, SUPERUSER, passwords.mysql_native(password)))

    def config_files(
        self, major_version: str, settings: list[ServerSetting], memory_bytes: int, role: Role
    ) -> dict[str, FileSpec]:
        flavor = flavors.for_version(major_version)
        own = {"uid": conf.UID, "gid": conf.GID}
        # 0644: the server ignores world-writable option files; nothing in them is secret.
        # The replication role is ours too: it follows the base options in the same file (no
        # user setting has the name of a role option).
        base = conf.base_cnf(flavor, memory_bytes, overridden=[s.name for s in settings])
        base += "\n" + replication.role_cnf(flavor, role)
        return {
            conf.MAIN_FILE: FileSpec(conf.main_cnf().encode(), 0o644, **own),
            conf.BASE_FILE: FileSpec(base.encode(), 0o644, **own),
            conf.SETTINGS_FILE: FileSpec(
                conf.settings_cnf(flavor, settings).encode(), 0o644, **own
            ),
        }

    def tls_files(self, major_version: str, cert_pem: str, key_pem: str) -> dict[str, FileSpec]:
        own = {"uid": conf.UID, "gid": conf.GID}
        return {
            conf.TLS_CERT: FileSpec(cert_pem.encode(), 0o644, **own),
            conf.TLS_KEY: FileSpec(key_pem.encode(), 0o600, **own),
        }

    def password_verifier(self, user: str, password: str) -> str:
        return passwords.mysql_native(password)

    def ping(self, conn: Connection, timeout: float) -> None:
        with connect(conn, timeout=timeout, read_timeout=timeout) as cursor:
            cursor.execute("SELECT 1")

    def ensure_admin(self, conn: Connection, user: str, verifier: str, database: str) -> None:
        """The admin: ALL on ``database`` with grant option, the definer-rights routines for
        users and databases (``admin_routines``), and no global privilege that reaches accounts
        or the server."""
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            _ensure_admin_routines(cursor)
            try:
                statements = [
                    sql.create_user(flavor, user, verifier),
                    sql.set_password(flavor, user, verifier),  # the user may have existed
                    sql.create_database(database),
                    sql.grant_all_on_database(database, user),
                    sql.grant_global(flavor, user),
                    admin_routines.grant_execute(user),
                ]
            except ValueError as exc:
                raise PermanentError(f"cannot create user {user!r}: {exc}") from exc
            for statement in statements:
                cursor.execute(statement)

    def ensure_database(self, conn: Connection) -> None:
        """Looks first: even ``CREATE DATABASE IF NOT EXISTS`` is binlogged, and a binlogged
        statement waits for the standby's acknowledgement (forever, if the standby is dead and
        the monitor has not degraded yet)."""
        with connect(conn) as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (DEFAULT_DATABASE,),
            )
            if cursor.fetchone() is None:
                cursor.execute(sql.create_database(DEFAULT_DATABASE))

    def reload(
        self, conn: Connection, settings: Sequence[ServerSetting] = (), role: Role | None = None
    ) -> None:
        """The server never re-reads its option files: hot settings and the replication role
        (semi-sync, read_only, the primary followed) are applied at runtime, then the TLS pair is
        re-read from its files (new connections get it; open ones, replication included, keep
        theirs)."""
        try:
            statements = [sql.set_global(s.name, s.value) for s in settings if s.hot]
        except ValueError as exc:
            raise PermanentError(f"cannot apply settings: {exc}") from exc
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            if role is not None:  # first: switching semi-sync off releases waiting commits
                replication_ops.apply_role(cursor, flavor, role)
            for statement in statements:
                cursor.execute(statement)
            cursor.execute(flavor.tls_reload)

    # --- replication: see agents/mysql/replication.py for the design -----------------------

    def ensure_replication_user(self, conn: Connection, password: str) -> None:
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            replication_ops.ensure_replicator(cursor, flavor, passwords.mysql_native(password))

    def clone_files(
        self, major_version: str, role: Role, replication_password: str
    ) -> dict[str, FileSpec]:
        flavor = flavors.for_version(major_version)
        if flavor is not flavors.MARIADB or role.primary_host is None:
            raise PermanentError(f"cannot copy a primary to {role.node} ({flavor.name})")
        own = {"uid": conf.UID, "gid": conf.GID}
        work = replication.CLONE_DIR
        host, script = role.primary_host, replication.clone_script(flavor, role)
        try:
            secrets = {f"{work}/primary.cnf": replication.client_cnf(host, replication_password)}
            if role.kind != "copy":
                secrets[f"{work}/follow.sql"] = replication.follow_sql(
                    flavor, role, replication_password
                )
        except ValueError as exc:
            raise PermanentError(f"cannot copy a primary to {role.node}: {exc}") from exc
        return {
            f"{work}/clone.sh": FileSpec(script.encode(), 0o700, **own),
            **{path: FileSpec(text.encode(), 0o600, **own) for path, text in secrets.items()},
        }

    def clone_command(self, major_version: str, role: Role) -> list[str]:
        return ["bash", f"{conf.BASE}/{replication.CLONE_DIR}/clone.sh"]

    def prepare_clone(self, primary: Connection, role: Role) -> None:
        """No slots to drop, but the binlog dump connection of the node's previous copy may
        outlive it (a killed replica's stays until TCP gives up): it would count as a second
        semi-sync client, and a new copy could never be the only one."""
        self._drop_stale_dumps(primary)

    def prepare_follower(self, primary: Connection, role: Role) -> None:
        self._drop_stale_dumps(primary)

    def _drop_stale_dumps(self, primary: Connection) -> None:
        with connect(primary) as cursor:
            flavor = _server_flavor(cursor)
            view = replication_ops.primary_view(cursor, flavor)
            stale = replication.stale_dump_threads(view, self._probe(primary, view, flavor))
            replication_ops.kill_connections(cursor, stale)

    def promote(self, conn: Connection) -> None:
        with connect(conn, timeout=5) as cursor:
            replication_ops.promote(cursor, _server_flavor(cursor))

    def physical_copy(self, major_version: str, exchange: str, archive: str) -> PhysicalCopy | None:
        if flavors.for_version(major_version) is not flavors.MARIADB:
            return None
        return PhysicalCopy(
            command=physical.backup_command(), stream=physical.STREAM,
            kept=physical.KEPT_FILES, kept_dir=physical.KEPT,
            finish=physical.prepare_script(exchange, archive),
        )  # fmt: skip

    # --- point-in-time recovery: see agents/mysql/physical.py ---------------------------------

    def seal_archive(self, conn: Connection, timeout: float) -> None:
        """The current binlog closed: the worker archives every closed one (binlog_archive)."""
        with connect(conn, read_timeout=timeout) as cursor:
            cursor.execute("FLUSH BINARY LOGS")

    def pitr_script(self, major_version: str, target_time: str, segments_dir: str) -> str:
        if flavors.for_version(major_version) is not flavors.MARIADB:
            raise NotImplementedError("point-in-time recovery is built for MariaDB only")
        return physical.pitr_script(target_time, segments_dir)

    def replication_state(self, primary: Connection) -> dict[str, StandbyState]:
        with connect(primary, timeout=2, read_timeout=5) as cursor:
            flavor = _server_flavor(cursor)
            view = replication_ops.primary_view(cursor, flavor)
        return replication.standby_states(view, self._probe(primary, view, flavor))

    def _probe(
        self, primary: Connection, view: replication.PrimaryView, flavor: Flavor
    ) -> dict[str, replication.Probe]:
        """Each binlog dump peer asked directly, in parallel, with the primary's account (the
        clone copied the accounts). Short deadlines: the HA monitor gives the whole call 0.8 s,
        and a vanished peer must not make the primary look unresponsive."""
        addresses = view.dump_addresses
        if not addresses:
            return {}
        with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
            views = pool.map(
                lambda a: self._follower_view(primary.to_peer(a, conf.PORT), flavor), addresses
            )
            probes = dict(zip(addresses, views, strict=True))
        return {address: self._silence_limit(address, probe) for address, probe in probes.items()}

    def _silence_limit(self, address: str, probe: replication.Probe) -> replication.Probe:
        """A peer that accepts connections but has not answered for ``SILENT_LIMIT_SECONDS``
        (a frozen container: its kernel still completes TCP handshakes) counts as gone, as a
        PostgreSQL standby does after wal_sender_timeout. Remembered per monitor process."""
        now = time.monotonic()
        if probe is not replication.Silence.NO_ANSWER:
            self._silent_since.pop(address, None)
            return probe
        since = self._silent_since.setdefault(address, now)
        return replication.Silence.UNREACHABLE if now - since > SILENT_LIMIT_SECONDS else probe

    def _follower_view(self, conn: Connection, flavor: Flavor) -> replication.Probe:
        try:
            with connect(conn, timeout=PROBE_CONNECT_SECONDS, read_timeout=PROBE_READ_SECONDS) as c:
                return replication_ops.follower_view(c, flavor)
        except (TemporaryError, PermanentError) as exc:
            cause = exc.__cause__
            if isinstance(cause, pymysql.OperationalError) and cause.args[:1] == (CANT_CONNECT,):
                return replication.Silence.UNREACHABLE
            return replication.Silence.NO_ANSWER

    def is_primary(self, conn: Connection) -> bool:
        with connect(conn, timeout=2, read_timeout=5) as cursor:
            return replication_ops.is_primary(cursor, _server_flavor(cursor))

    def activity(self, conn: Connection) -> Activity:
        with connect(conn, timeout=2, read_timeout=5) as cursor:
            cursor.execute(sql.client_sessions(), (SUPERUSER, replication.REPLICATOR))
            sessions = cursor.fetchone()
            cursor.execute(sql.WRITE_COUNTERS)
            counters = {str(name): int(value) for name, value in cursor.fetchall()}
        return Activity(
            connections=int(sessions[0]) if sessions else 0,
            write_transactions=written_transactions(counters),
        )

    # --- databases, users, privileges: agents/mysql/objects.py ------------------------------

    def list_databases(self, conn: Connection, sizes: bool) -> list[DatabaseInfo]:
        with connect(conn) as cursor:
            return objects.list_databases(cursor, sizes)

    def create_database(self, conn: Connection, name: str) -> None:
        with connect(conn) as cursor:
            objects.create_database(cursor, name)

    def drop_database(self, conn: Connection, name: str) -> None:
        with connect(conn) as cursor:
            objects.drop_database(cursor, name, (SUPERUSER, replication.REPLICATOR))

    def list_users(self, conn: Connection) -> list[UserInfo]:
        with connect(conn) as cursor:
            return objects.list_users(cursor)

    def create_user(self, conn: Connection, name: str, verifier: str, is_admin: bool) -> None:
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            if is_admin:
                _ensure_admin_routines(cursor)
            objects.create_user(cursor, flavor, name, verifier, is_admin)

    def update_user(
        self, conn: Connection, name: str, verifier: str | None, is_admin: bool | None
    ) -> None:
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            if is_admin:
                _ensure_admin_routines(cursor)
            objects.update_user(cursor, flavor, name, verifier, is_admin)

    def drop_user(self, conn: Connection, name: str) -> None:
        with connect(conn) as cursor:
            objects.drop_user(cursor, name)

    def list_privileges(self, conn: Connection) -> list[PrivilegeInfo]:
        with connect(conn) as cursor:
            return objects.list_privileges(cursor)

    def set_privilege(self, conn: Connection, database: str, user: str, permission: str) -> None:
        with connect(conn) as cursor:
            objects.set_privilege(cursor, database, user, permission)


def written_transactions(status: dict[str, int]) -> int:
    """From ``sql.WRITE_COUNTERS``: the binary log's count, else (MySQL) explicit commits."""
    return status.get("Binlog_commits", status.get("Com_commit", 0))
