"""Archived WAL segments and binlogs older than an instance's oldest snapshot are trimmed.

A restore starts from a snapshot and replays what was archived after it: the window opens at the
oldest snapshot, so what no snapshot could replay is only cost. A file is old enough when it was
already *stored* when the oldest snapshot started: it was archived only once complete (a WAL
segment is closed, a binlog rotated), so everything it holds precedes the snapshot's starting
point (its backup checkpoint, its binlog position). Each snapshot job therefore records, before
copying anything, the last file stored in each archive directory of its instance (``marker``,
kept in the operation's params); the periodic trim removes, per directory, the log files that
sort at or before the oldest snapshot's marker. Names sort in archive order within a directory
(WAL: timeline then position; binlogs: one lineage per directory, numbered). History and backup
label files of PostgreSQL are kept (small, and a recovery may follow a timeline's history).
Without a marker (a snapshot still waiting for its job, or taken before markers existed)
nothing is trimmed.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Operation, Snapshot
from controlplane.logstore import LogStore, get_store
from controlplane.services.pitr import BASES

log = logging.getLogger(__name__)
PREFIXES = ("wal/", "binlog/")  # workers/wal_archive.py, workers/binlog_archive.py
MARKER = "archived"  # key of the marker in the create_snapshot operation's params
_LOG_FILE = re.compile(r"^(?:[0-9A-F]{24}|binlog\.\d+)$")


def _prefixes(instance_id: str) -> list[str]:
    return [f"{prefix}{instance_id}/" for prefix in PREFIXES]


def _split(key: str) -> tuple[str, str]:
    directory, _, name = key.rpartition("/")
    return directory, name


def marker(store: LogStore, instance_id: str) -> dict[str, str]:
    """The last log file stored in each archive directory of the instance, now."""
    last: dict[str, str] = {}
    for prefix in _prefixes(instance_id):
        for obj in store.objects(prefix):
            directory, name = _split(obj.key)
            if _LOG_FILE.match(name) and name > last.get(directory, ""):
                last[directory] = name
    return last


def trimmable(keys: list[str], oldest: dict[str, str]) -> list[str]:
    """The log files at or before the oldest snapshot's marker of their directory (pure)."""
    out = []
    for key in keys:
        directory, name = _split(key)
        bound = oldest.get(directory)
        if bound is not None and _LOG_FILE.match(name) and name <= bound:
            out.append(key)
    return out


def _oldest_marker(session: Session, instance_id: str) -> dict[str, str] | None:
    """The marker of the instance's oldest snapshot a restore may start from (None: none, or
    not recorded yet)."""
    oldest = session.scalars(
        select(Snapshot.id)
        .where(Snapshot.instance_id == instance_id, Snapshot.status.in_(BASES))
        .order_by(Snapshot.created_at)
        .limit(1)
    ).first()
    if oldest is None:
        return None
    params = session.scalars(
        select(Operation.params).where(
            Operation.resource_id == oldest, Operation.kind == "create_snapshot"
        )
    ).first()
    recorded = (params or {}).get(MARKER)
    return {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, dict) else None


def trim(sessions: sessionmaker[Session], store: LogStore | None = None) -> int:
    """One pass over every instance with archived files; the files removed (periodic)."""
    store = store or get_store()
    removed = 0
    for prefix in PREFIXES:
        keys = [o.key for o in store.objects(prefix)]
        for instance_id in sorted({k[len(prefix) :].split("/", 1)[0] for k in keys}):
            with sessions() as session:
                oldest = _oldest_marker(session, instance_id)
            if not oldest:
                continue
            mine = [k for k in keys if k.startswith(f"{prefix}{instance_id}/")]
            old = trimmable(mine, oldest)
            if old:
                store.delete(old)
                removed += len(old)
                log.info("instance %s: %d archived file(s) older than its oldest snapshot "
                         "trimmed", instance_id, len(old))  # fmt: skip
    return removed
