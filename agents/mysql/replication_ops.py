"""MySQL-family replication on a live server: one function per step, each given a cursor.

The statements come from ``replication`` and ``flavors``; the agent opens the connections and
translates driver errors. Every step is idempotent: it looks at the server before changing it.
"""

from __future__ import annotations

import time
from typing import Any

import pymysql
from pymysql.cursors import Cursor

from agents.base import Role
from agents.mysql import replication, sql
from agents.mysql.flavors import Flavor
from agents.mysql.replication import REPLICATOR, FollowerView, PrimaryView
from controlplane.domain.failures import PermanentError, TemporaryError

PROMOTE_WAIT_SECONDS = 30
UNKNOWN_THREAD = 1094


def _rows(cursor: Cursor, statement: str, args: Any = None) -> list[dict[str, Any]]:
    cursor.execute(statement, args)
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _scalar(cursor: Cursor, statement: str, args: Any = None) -> Any:
    cursor.execute(statement, args)
    row = cursor.fetchone()
    return row[0] if row else None


def _status(cursor: Cursor, name: str) -> str:
    cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
    row = cursor.fetchone()
    return str(row[1]) if row else ""


def replica_status(cursor: Cursor, flavor: Flavor) -> dict[str, Any] | None:
    """The node's replication settings and threads; None when it follows nobody."""
    rows = _rows(cursor, flavor.replica_status)
    return rows[0] if rows else None


def ensure_replicator(cursor: Cursor, flavor: Flavor, verifier: str) -> None:
    """Replicated like any change (binlog on): standbys get the same account, so it is still
    there after a failover, and a password change reaches every node. Nothing is written when
    the account is already right: a binlogged statement would wait for the standby."""
    stored = _scalar(
        cursor,
        "SELECT authentication_string FROM mysql.user WHERE User = %s AND Host = '%%'",
        (replication.REPLICATOR,),
    )
    if stored == verifier:
        grants = [str(r[0]) for r in _all(cursor, f"SHOW GRANTS FOR {sql.account(REPLICATOR)}")]
        if set(flavor.replicator_privileges) <= replication.granted_privileges(grants):
            return
    identified = sql.identified_by_hash(flavor, verifier)
    for statement in replication.create_replicator(flavor, identified):
        cursor.execute(statement)


def _all(cursor: Cursor, statement: str) -> list[tuple[Any, ...]]:
    cursor.execute(statement)
    return list(cursor.fetchall())


def apply_role(cursor: Cursor, flavor: Flavor, role: Role) -> None:
    """Make a running node what ``role`` says, without a restart.

    A node that follows nobody can become a standby/replica only through a clone (this needs
    the replication password and a fresh copy); a node still following someone becomes a primary
    only through ``promote``. Both are refused here rather than guessed.
    """
    status = replica_status(cursor, flavor)
    if role.kind == "primary" and status is not None:
        if not is_writable(cursor, flavor):
            source = status.get(flavor.source_host_column)
            raise PermanentError(f"{role.node} still follows {source}: promote it first")
        detach(cursor, flavor)  # promoted: the old primary's settings go
        status = None
    if role.kind != "primary" and status is None:
        raise PermanentError(f"{role.node} follows no primary: it needs a fresh copy")
    semi_sync_replica = flavor.semi_sync.replica_enabled
    was = str(_scalar(cursor, f"SELECT @@GLOBAL.{semi_sync_replica}"))
    for name, value in replication.runtime_settings(flavor, role):
        cursor.execute(sql.set_global(name, value))
    if status is None or role.primary_host is None:
        return
    moved = status.get(flavor.source_host_column) != role.primary_host
    tls = replication.source_tls_status(flavor)
    tls_differs = any(status.get(column) != value for column, value in tls.items())
    if moved or tls_differs:
        cursor.execute(flavor.stop_replica)
        if moved:
            cursor.execute(replication.repoint(flavor, role.primary_host))
        if tls_differs:  # copied before replication used TLS
            cursor.execute(replication.source_tls(flavor))
        cursor.execute(flavor.start_replica)
    elif was != str(_scalar(cursor, f"SELECT @@GLOBAL.{semi_sync_replica}")):
        # The receiver negotiates semi-sync when it connects: reconnect it.
        cursor.execute(flavor.stop_receiver)
        cursor.execute(flavor.start_receiver)


def promote(cursor: Cursor, flavor: Flavor, timeout: float = PROMOTE_WAIT_SECONDS) -> None:
    """Accept writes, after applying everything received (the caller fenced the old primary).

    Semi-sync (AFTER_SYNC) only guarantees that an acknowledged commit is in this node's relay
    log: the node is not opened for writes until its applier has reached what was received.
    The fenced primary sends nothing more, so the received position is final without stopping
    the receiver, which matters: a receiver retrying a dead primary is stuck in a name lookup
    (about 20 s on an internal network, where unknown names get no answer) and ``STOP SLAVE``
    would wait for it. Forgetting the old primary (``detach``) comes after the switch, when the
    node is configured as a primary (``apply_role``), off the clients' critical path.
    """
    status = replica_status(cursor, flavor)
    if status is not None:
        received = str(status.get(flavor.received_column) or "")
        if received:
            _wait_applied(cursor, flavor, received, timeout)
    for name in flavor.read_only_variables:
        cursor.execute(sql.set_global(name, "OFF"))


def detach(cursor: Cursor, flavor: Flavor) -> None:
    """Stop following and forget the primary (a promoted node; waits for the receiver)."""
    cursor.execute(flavor.stop_replica)
    cursor.execute(flavor.reset_replica)


def _wait_applied(cursor: Cursor, flavor: Flavor, received: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = replica_status(cursor, flavor) or {}
        if status.get(flavor.applier_running_column) != "Yes":
            error = status.get(flavor.applier_error_column) or "stopped"
            # Promoting now would lose acknowledged commits still in the relay log.
            raise PermanentError(f"cannot promote: the replication applier is down ({error})")
        step = max(1, min(5, int(deadline - time.monotonic())))
        if _scalar(cursor, replication.wait_applied(flavor), (received, step)) == 0:
            return
        if time.monotonic() > deadline:
            raise TemporaryError(f"relay log not applied up to {received} within {timeout:.0f} s")


def is_writable(cursor: Cursor, flavor: Flavor) -> bool:
    read_only = [_scalar(cursor, f"SELECT @@GLOBAL.{name}") for name in flavor.read_only_variables]
    return not any(int(v or 0) for v in read_only)


def is_primary(cursor: Cursor, flavor: Flavor) -> bool:
    return is_writable(cursor, flavor) and replica_status(cursor, flavor) is None


def primary_view(cursor: Cursor, flavor: Flavor) -> PrimaryView:
    semi = flavor.semi_sync
    followers = tuple(str(r["Host"]) for r in _rows(cursor, flavor.replica_hosts) if r["Host"])
    commands = ", ".join(["%s"] * len(flavor.dump_thread_commands))
    rows = _rows(
        cursor,
        f"SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE COMMAND IN ({commands})",
        flavor.dump_thread_commands,
    )
    threads = ((int(r["ID"]), replication.dump_address(str(r["HOST"] or ""))) for r in rows)
    binlogs = _rows(cursor, "SHOW BINARY LOGS")
    return PrimaryView(
        followers=followers,
        dump_threads=tuple((thread, address) for thread, address in threads if address),
        semi_sync_on=_status(cursor, semi.primary_status) == "ON",
        semi_sync_clients=int(_status(cursor, semi.primary_clients) or 0),
        binlog_position=str(_scalar(cursor, "SELECT @@GLOBAL.gtid_binlog_pos") or ""),
        binlogs=tuple((str(r["Log_name"]), int(r["File_size"])) for r in binlogs),
    )


def follower_view(cursor: Cursor, flavor: Flavor) -> FollowerView:
    status = replica_status(cursor, flavor) or {}
    return FollowerView(
        node=str(_scalar(cursor, "SELECT @@GLOBAL.report_host") or ""),
        receiving=status.get(flavor.receiver_running_column) == "Yes",
        semi_sync=_status(cursor, flavor.semi_sync.replica_status) == "ON",
        received=str(status.get(flavor.received_column) or ""),
        applied_file=str(status.get(flavor.applied_file_column) or ""),
        applied_offset=int(status.get(flavor.applied_offset_column) or 0),
    )


def kill_connections(cursor: Cursor, threads: list[int]) -> None:
    for thread in threads:
        try:
            cursor.execute(f"KILL CONNECTION {int(thread)}")
        except pymysql.OperationalError as exc:
            if exc.args and exc.args[0] == UNKNOWN_THREAD:
                continue  # ended meanwhile
            raise
