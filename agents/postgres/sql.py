"""SQL the PostgreSQL agent runs, composed with psycopg.sql (never string-formatted identifiers)."""

from __future__ import annotations

from psycopg import sql


def role_exists() -> sql.Composed:
    return sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s").format()


def create_admin_role(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("CREATE ROLE {} WITH LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def set_role_password(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def database_exists() -> sql.Composed:
    return sql.SQL("SELECT 1 FROM pg_database WHERE datname = %s").format()


def create_database(name: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))


def grant_database(database: str, user: str) -> sql.Composed:
    return sql.SQL("GRANT ALL PRIVILEGES ON DATABASE {} TO {}").format(
        sql.Identifier(database), sql.Identifier(user)
    )


def grant_public_schema(user: str) -> sql.Composed:
    return sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(user))


def grant_monitoring(user: str) -> sql.Composed:
    return sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(user))


def create_replication_role(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("CREATE ROLE {} WITH REPLICATION LOGIN PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def set_replication_password(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} WITH REPLICATION LOGIN PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def slot_activity() -> sql.Composed:
    return sql.SQL("SELECT active FROM pg_replication_slots WHERE slot_name = %s").format()


def terminate_slot_holder() -> sql.Composed:
    return sql.SQL(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
        "WHERE slot_name = %s AND active_pid IS NOT NULL"
    ).format()


def create_slot() -> sql.Composed:
    return sql.SQL("SELECT pg_create_physical_replication_slot(%s, true)").format()


def drop_slot() -> sql.Composed:
    return sql.SQL("SELECT pg_drop_replication_slot(%s)").format()


def archived_since() -> sql.Composed:
    """Whether the archiver has archived segment ``%s`` (names sort in WAL order; a timeline
    history file, ``00000002.history``, sorts before its timeline's segments)."""
    return sql.SQL(
        "SELECT coalesce(left(last_archived_wal, 24) >= %s, false) FROM pg_stat_archiver"
    ).format()


def replication_status() -> sql.Composed:
    return sql.SQL(
        "SELECT application_name, state, sync_state, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication"
    ).format()


def activity() -> sql.Composed:
    """Client sessions of users (not the control plane's superuser, ``%s``; replication and
    background processes are other backend types), and the transaction ids assigned so far:
    only transactions that write take one (rolled back ones too), and the count survives
    restarts and failovers (a standby's follows its primary's)."""
    return sql.SQL(
        "SELECT (SELECT count(*) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND usename <> %s),"
        " pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
    ).format()
