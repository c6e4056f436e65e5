"""MySQL-family agent (MariaDB; MySQL 8 through ``flavors``): bootstrap, admin, config, health."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import pymysql
from pymysql.cursors import Cursor

from agents import passwords
from agents.base import (
    DEFAULT_DATABASE,
    Connection,
    EngineAgent,
    FileSpec,
    NodeRuntime,
    Role,
    ServerSetting,
    StandbyState,
)
from agents.mysql import conf, flavors, sql
from agents.mysql.flavors import Flavor
from controlplane.domain.failures import PermanentError, TemporaryError

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
def connect(c: Connection, timeout: float = 5) -> Iterator[Cursor]:
    """A cursor on an autocommit connection; pymysql errors leave as Temporary/PermanentError."""
    try:
        connection = pymysql.connect(
            host=c.host, port=c.port, user=c.user, password=c.password,
            connect_timeout=max(1, int(timeout)), autocommit=True, charset="utf8mb4",
        )  # fmt: skip
        with connection, connection.cursor() as cursor:
            yield cursor
    except pymysql.Error as exc:
        raise _translate(exc) from exc


def _server_flavor(cursor: Cursor) -> Flavor:
    cursor.execute("SELECT VERSION()")
    row = cursor.fetchone()
    return flavors.for_server(str(row[0]) if row else "")


class MysqlAgent(EngineAgent):
    family = "mysql"

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

    def config_files(
        self, major_version: str, settings: list[ServerSetting], memory_bytes: int, role: Role
    ) -> dict[str, FileSpec]:
        flavor = flavors.for_version(major_version)
        own = {"uid": conf.UID, "gid": conf.GID}
        # 0644: the server ignores world-writable option files; nothing in them is secret.
        base = conf.base_cnf(flavor, memory_bytes, overridden=[s.name for s in settings])
        return {
            conf.MAIN_FILE: FileSpec(conf.main_cnf().encode(), 0o644, **own),
            conf.BASE_FILE: FileSpec(base.encode(), 0o644, **own),
            conf.SETTINGS_FILE: FileSpec(
                conf.settings_cnf(flavor, settings).encode(), 0o644, **own
            ),
        }

    def password_verifier(self, user: str, password: str) -> str:
        return passwords.mysql_native(password)

    def wait_ready(self, conn: Connection, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with connect(conn, timeout=2) as cursor:
                    cursor.execute("SELECT 1")
                    return
            except TemporaryError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def ensure_admin(self, conn: Connection, user: str, verifier: str, database: str) -> None:
        with connect(conn) as cursor:
            flavor = _server_flavor(cursor)
            try:
                statements = [
                    sql.create_user(flavor, user, verifier),
                    sql.set_password(flavor, user, verifier),  # the user may have existed
                    sql.create_database(database),
                    sql.grant_all_on_database(database, user),
                    sql.grant_global(flavor, user),
                ]
            except ValueError as exc:
                raise PermanentError(f"cannot create user {user!r}: {exc}") from exc
            for statement in statements:
                cursor.execute(statement)

    def ensure_database(self, conn: Connection) -> None:
        with connect(conn) as cursor:
            cursor.execute(sql.create_database(DEFAULT_DATABASE))

    def reload(self, conn: Connection, settings: Sequence[ServerSetting] = ()) -> None:
        """The server never re-reads its option files: hot settings are set at runtime."""
        try:
            statements = [sql.set_global(s.name, s.value) for s in settings if s.hot]
        except ValueError as exc:
            raise PermanentError(f"cannot apply settings: {exc}") from exc
        if not statements:
            return
        with connect(conn) as cursor:
            for statement in statements:
                cursor.execute(statement)

    def is_healthy(self, conn: Connection) -> bool:
        try:
            with connect(conn, timeout=3) as cursor:
                cursor.execute("SELECT 1")
            return True
        except TemporaryError:
            return False

    # Replication is not wired for the MySQL family yet: HA and replicas are refused up front.

    def ensure_replication_user(self, conn: Connection, password: str) -> None:
        raise PermanentError("replication is not available for MariaDB yet")

    def clone_files(
        self, major_version: str, role: Role, replication_password: str
    ) -> dict[str, FileSpec]:
        raise PermanentError("replication is not available for MariaDB yet")

    def clone_command(self, major_version: str, role: Role) -> list[str]:
        raise PermanentError("replication is not available for MariaDB yet")

    def prepare_clone(self, primary: Connection, role: Role) -> None:
        raise PermanentError("replication is not available for MariaDB yet")

    def promote(self, conn: Connection) -> None:
        raise PermanentError("replication is not available for MariaDB yet")

    def replication_state(self, primary: Connection) -> dict[str, StandbyState]:
        return {}

    def is_primary(self, conn: Connection) -> bool:
        return True
