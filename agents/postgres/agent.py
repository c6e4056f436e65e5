"""PostgreSQL agent: bootstrap, admin user, configuration, health."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import psycopg

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
    PrivilegeInfo,
    Role,
    ServerSetting,
    StandbyState,
    UserInfo,
)
from agents.postgres import conf, objects, replication, sql
from controlplane.domain.failures import PermanentError, TemporaryError

# The control plane's own sessions: objects users create (in public, or a search_path they set)
# never shadow ours; and our writes (roles, databases: idempotent, re-applied by every converge)
# never wait for a synchronous standby, which may be the very node a job is repairing.
# A statement never runs longer than a minute: a job is never stuck on one.
SESSION_OPTIONS = (
    "-c search_path=pg_catalog,pg_temp -c synchronous_commit=local -c statement_timeout=60s"
)


@contextmanager
def connect(
    c: Connection, dbname: str = "postgres", timeout: float = 5
) -> Iterator[psycopg.Connection]:
    try:
        with psycopg.connect(
            host=c.host,
            port=c.port,
            user=c.user,
            password=c.password,
            dbname=dbname,
            connect_timeout=max(1, int(timeout)),
            autocommit=True,
            options=SESSION_OPTIONS,
        ) as connection:
            yield connection
    except psycopg.OperationalError as exc:
        raise TemporaryError(f"PostgreSQL not reachable: {exc}".strip()) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermanentError(f"PostgreSQL refused: {exc}") from exc


class PostgresAgent(EngineAgent):
    family = "postgresql"

    def runtime(self, major_version: str) -> NodeRuntime:
        return NodeRuntime(
            data_mount=conf.BASE,
            uid=conf.PG_UID,
            gid=conf.PG_GID,
            user="postgres",
            port=5432,
            server_command=["postgres", "-D", conf.data_dir(major_version)],
            init_command=["sh", f"{conf.BASE}/{conf.INIT_DIR}/init.sh"],
            initialised=f"{conf.rel_data_dir(major_version)}/PG_VERSION",
            version_command=["postgres", "--version"],
            log_dir="log",
            stop_signal="SIGINT",  # fast shutdown; SIGTERM waits for clients
            stop_timeout=60,
        )

    def init_files(
        self, major_version: str, superuser_password: str, init_settings: Mapping[str, str]
    ) -> dict[str, FileSpec]:
        own = {"uid": conf.PG_UID, "gid": conf.PG_GID}
        return {
            f"{conf.INIT_DIR}/init.sh": FileSpec(
                conf.init_script(major_version, init_settings).encode(), 0o700, **own
            ),
            f"{conf.INIT_DIR}/pwfile": FileSpec(superuser_password.encode(), 0o600, **own),
            f"{conf.INIT_DIR}/pg_hba.conf": FileSpec(conf.HBA.encode(), 0o600, **own),
        }

    def set_superuser_password(self, conn: Connection, password: str) -> None:
        with connect(conn) as c:
            c.execute(sql.set_role_password(SUPERUSER, passwords.scram_sha256(password)))

    def config_files(
        self, major_version: str, settings: list[ServerSetting], memory_bytes: int, role: Role
    ) -> dict[str, FileSpec]:
        base = f"{conf.rel_data_dir(major_version)}/conf.d"
        own = {"uid": conf.PG_UID, "gid": conf.PG_GID}
        files = {
            f"{base}/00-dbaas.conf": conf.base_conf(memory_bytes),
            f"{base}/10-settings.conf": conf.settings_conf(settings),
            f"{base}/20-replication.conf": replication.replication_conf(role),
        }
        return {path: FileSpec(text.encode(), 0o600, **own) for path, text in files.items()}

    def tls_files(self, major_version: str, cert_pem: str, key_pem: str) -> dict[str, FileSpec]:
        own = {"uid": conf.PG_UID, "gid": conf.PG_GID}
        data = conf.rel_data_dir(major_version)
        return {
            f"{data}/{conf.TLS_CERT}": FileSpec(cert_pem.encode(), 0o644, **own),
            f"{data}/{conf.TLS_KEY}": FileSpec(key_pem.encode(), 0o600, **own),  # PG checks 0600
        }

    def password_verifier(self, user: str, password: str) -> str:
        return passwords.scram_sha256(password)

    def ping(self, conn: Connection, timeout: float) -> None:
        with connect(conn, timeout=timeout) as c:
            c.execute("SELECT 1")

    def ensure_admin(self, conn: Connection, user: str, verifier: str, database: str) -> None:
        with connect(conn) as c:
            if c.execute(sql.role_exists(), [user]).fetchone():
                c.execute(sql.set_role_password(user, verifier))
            else:
                c.execute(sql.create_admin_role(user, verifier))
            c.execute(sql.grant_monitoring(user))
            if not c.execute(sql.database_exists(), [database]).fetchone():
                c.execute(sql.create_database(database))
            c.execute(sql.grant_database(database, user))
        with connect(conn, dbname=database) as c:
            c.execute(sql.grant_public_schema(user))

    def ensure_database(self, conn: Connection) -> None:
        with connect(conn) as c:
            if not c.execute(sql.database_exists(), [DEFAULT_DATABASE]).fetchone():
                c.execute(sql.create_database(DEFAULT_DATABASE))

    def reload(
        self, conn: Connection, settings: Sequence[ServerSetting] = (), role: Role | None = None
    ) -> None:
        with connect(conn) as c:  # PostgreSQL re-reads conf.d: ``settings``, ``role`` not needed
            c.execute("SELECT pg_reload_conf()")

    def ensure_replication_user(self, conn: Connection, password: str) -> None:
        verifier = passwords.scram_sha256(password)
        with connect(conn) as c:
            if c.execute(sql.role_exists(), [replication.REPLICATOR]).fetchone():
                c.execute(sql.set_replication_password(replication.REPLICATOR, verifier))
            else:
                c.execute(sql.create_replication_role(replication.REPLICATOR, verifier))

    def clone_files(
        self, major_version: str, role: Role, replication_password: str
    ) -> dict[str, FileSpec]:
        own = {"uid": conf.PG_UID, "gid": conf.PG_GID}
        script = replication.clone_script(major_version, role)
        return {
            ".pgpass": FileSpec(replication.pgpass(replication_password).encode(), 0o600, **own),
            f"{replication.CLONE_DIR}/clone.sh": FileSpec(script.encode(), 0o700, **own),
        }

    def clone_command(self, major_version: str, role: Role) -> list[str]:
        return ["sh", f"{conf.BASE}/{replication.CLONE_DIR}/clone.sh"]

    def prepare_clone(self, primary: Connection, role: Role) -> None:
        slot = replication.slot_name(role.node)
        with connect(primary) as c:
            row = c.execute(sql.slot_activity(), [slot]).fetchone()
            if row is None:
                return
            if row[0]:  # a stale walsender still holds it (the old node just died)
                c.execute(sql.terminate_slot_holder(), [slot])
                time.sleep(0.2)
            c.execute(sql.drop_slot(), [slot])

    def prepare_follower(self, primary: Connection, role: Role) -> None:
        """Its slot: PostgreSQL 15 does not carry slots over to a promoted standby."""
        slot = replication.slot_name(role.node)
        with connect(primary) as c:
            if c.execute(sql.slot_activity(), [slot]).fetchone() is None:
                c.execute(sql.create_slot(), [slot])

    def promote(self, conn: Connection) -> None:
        with connect(conn) as c:
            if c.execute("SELECT pg_is_in_recovery()").fetchone() == (True,):
                promoted = c.execute("SELECT pg_promote(wait => true, wait_seconds => 30)")
                if promoted.fetchone() != (True,):
                    raise TemporaryError("pg_promote did not finish within 30 s")

    def seal_archive(self, conn: Connection, timeout: float) -> None:
        with connect(conn) as c:
            # A transaction with an id commits a record stamped now: recovery to any earlier
            # time finds a commit past its target in the archive.
            with c.transaction():
                c.execute("SELECT pg_current_xact_id()")
            row = c.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            assert row is not None
            deadline = time.monotonic() + timeout
            while True:
                done = c.execute(sql.archived_since(), [row[0]]).fetchone()
                if done == (True,):
                    return
                if time.monotonic() > deadline:
                    raise TemporaryError(f"WAL segment {row[0]} not archived yet", delay=5)
                time.sleep(0.5)

    def pitr_script(self, major_version: str, target_time: str, segments_dir: str) -> str:
        return conf.pitr_script(major_version, target_time, segments_dir)

    def replication_state(self, primary: Connection) -> dict[str, StandbyState]:
        with connect(primary, timeout=2) as c:
            rows = c.execute(sql.replication_status()).fetchall()
        return {
            name: StandbyState(name, state == "streaming", sync_state in ("sync", "quorum"), lag)
            for name, state, sync_state, lag in rows
        }

    def is_primary(self, conn: Connection) -> bool:
        with connect(conn, timeout=2) as c:
            return c.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)

    def activity(self, conn: Connection) -> Activity:
        with connect(conn, timeout=2) as c:
            row = c.execute(sql.activity(), [SUPERUSER]).fetchone()
        if row is None:
            raise TemporaryError("PostgreSQL returned no activity")
        return Activity(connections=int(row[0]), write_transactions=int(row[1]))

    # --- databases, users, privileges: agents/postgres/objects.py ---------------------------

    def list_databases(self, conn: Connection, sizes: bool) -> list[DatabaseInfo]:
        return objects.list_databases(_opener(conn), sizes)

    def create_database(self, conn: Connection, name: str) -> None:
        objects.create_database(_opener(conn), name)

    def drop_database(self, conn: Connection, name: str) -> None:
        objects.drop_database(_opener(conn), name)

    def list_users(self, conn: Connection) -> list[UserInfo]:
        return objects.list_users(_opener(conn))

    def create_user(self, conn: Connection, name: str, verifier: str, is_admin: bool) -> None:
        objects.create_user(_opener(conn), name, verifier, is_admin)

    def update_user(
        self, conn: Connection, name: str, verifier: str | None, is_admin: bool | None
    ) -> None:
        objects.update_user(_opener(conn), name, verifier, is_admin)

    def drop_user(self, conn: Connection, name: str) -> None:
        objects.drop_user(_opener(conn), name)

    def list_privileges(self, conn: Connection) -> list[PrivilegeInfo]:
        return objects.list_privileges(_opener(conn))

    def set_privilege(self, conn: Connection, database: str, user: str, permission: str) -> None:
        objects.set_privilege(_opener(conn), database, user, permission)


def _opener(conn: Connection) -> objects.Open:
    return lambda dbname: _session(conn, dbname)


@contextmanager
def _session(conn: Connection, dbname: str) -> Iterator[psycopg.Connection]:
    """A statement the server refuses (a dependency, a duplicate) fails the job at once:
    retrying cannot change the answer."""
    with connect(conn, dbname=dbname) as c:
        try:
            yield c
        except (
            psycopg.ProgrammingError,
            psycopg.IntegrityError,
            psycopg.DataError,
            psycopg.InternalError,
            psycopg.NotSupportedError,
        ) as exc:
            raise PermanentError(f"PostgreSQL refused: {exc}".strip()) from exc
