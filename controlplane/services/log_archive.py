"""The archive of instance logs in the log store: closing days, retention, purge, details,
exports. Layout and names: domain/logs.py.

Closing a day (00:00-23:59 UTC) merges its collected chunks into one compressed object per
node and day, recorded in ``log_days``. The merge is written under a new key, the row then
points at it and lists the chunks it holds, and only then are the chunks and the previous
object deleted: a compaction cut short at any step neither loses nor doubles a line.
"""

from __future__ import annotations

import gzip
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.db.base import utcnow
from controlplane.db.models import Instance, LogDay
from controlplane.domain import logs
from controlplane.logstore import LogStore, StoredObject


@dataclass(frozen=True)
class DayLog:
    node: str
    day: date
    size: int  # bytes stored (compressed)
    closed: bool


def _chunks(store: LogStore, instance_id: str) -> dict[tuple[str, date], list[StoredObject]]:
    grouped: dict[tuple[str, date], list[StoredObject]] = defaultdict(list)
    for obj in store.objects(logs.instance_prefix(instance_id)):
        place = logs.chunk_place(instance_id, obj.key)
        if place is not None:
            grouped[(place.node, place.day)].append(obj)
    return grouped


def _closed(session: Session, instance_id: str) -> dict[tuple[str, date], LogDay]:
    rows = session.scalars(select(LogDay).where(LogDay.instance_id == instance_id))
    return {(row.node_name, row.day): row for row in rows}


def days(session: Session, store: LogStore, instance_id: str) -> list[DayLog]:
    """Every node's days, closed or still collecting, oldest first."""
    closed = _closed(session, instance_id)
    found = {key: DayLog(key[0], key[1], row.size, True) for key, row in closed.items()}
    for key, chunks in _chunks(store, instance_id).items():
        merged = set(closed[key].merged) if key in closed else set()
        size = sum(c.size for c in chunks if c.key not in merged)
        before = found.get(key)
        found[key] = DayLog(
            key[0], key[1], size + (before.size if before else 0), before is not None
        )
    return sorted(found.values(), key=lambda d: (d.day, d.node))


def close_days(session: Session, store: LogStore, instance_id: str, today: date) -> int:
    """Merge the chunks of every day before ``today``; the number of days closed."""
    closed = _closed(session, instance_id)
    count = 0
    for (node, day), chunks in sorted(_chunks(store, instance_id).items()):
        if day >= today:
            continue
        row = closed.get((node, day))
        merged = set(row.merged) if row is not None else set()
        fresh = [c.key for c in chunks if c.key not in merged]
        if fresh:
            _merge(session, store, instance_id, node, day, row, fresh)
            count += 1
        _drop_merged_chunks(session, store, instance_id, node, day)
    return count


def _merge(
    session: Session, store: LogStore, instance_id: str, node: str, day: date,
    row: LogDay | None, fresh: list[str],
) -> None:  # fmt: skip
    parts = [gzip.decompress(store.get(row.object_key))] if row is not None else []
    parts += [gzip.decompress(store.get(key)) for key in fresh]
    data = gzip.compress(b"".join(parts), compresslevel=9)
    key = logs.day_object_key(instance_id, node, day, uuid.uuid4().hex[:12])
    store.put(key, data)
    previous = row.object_key if row is not None else None
    if row is None:
        row = LogDay(instance_id=instance_id, node_name=node, day=day, merged=[])
        session.add(row)
    row.object_key, row.size, row.closed_at = key, len(data), utcnow()
    row.merged = sorted({*row.merged, *fresh})
    session.commit()
    if previous is not None:
        store.delete([previous])


def _drop_merged_chunks(
    session: Session, store: LogStore, instance_id: str, node: str, day: date
) -> None:
    row = _closed(session, instance_id).get((node, day))
    if row is None or not row.merged:
        return
    store.delete(list(row.merged))
    row.merged = []
    session.commit()


def apply_retention(session: Session, store: LogStore, instance: Instance, today: date) -> None:
    """``logs_policy``: days older than ``max_age_retention``, then the oldest until each node
    fits in ``total_disk_retention`` bytes (the current day is kept)."""
    by_node: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for day_log in days(session, store, instance.id):
        by_node[day_log.node].append((day_log.day, day_log.size))
    for node, sizes in by_node.items():
        removed = logs.to_remove(
            sizes, today, instance.logs_max_age_retention, instance.logs_total_disk_retention
        )
        for day in removed:
            remove_day(session, store, instance.id, node, day)


def remove_day(session: Session, store: LogStore, instance_id: str, node: str, day: date) -> None:
    row = _closed(session, instance_id).get((node, day))
    if row is not None:
        session.delete(row)
        session.commit()
    store.delete_prefix(logs.day_prefix(instance_id, node, day))


def purge(session: Session, store: LogStore, instance_id: str, name: str | None) -> bool:
    """One day of one node by its log name, or everything; False when the name is unknown."""
    if name is None:
        for row in _closed(session, instance_id).values():
            session.delete(row)
        session.commit()
        store.delete_prefix(logs.instance_prefix(instance_id))
        return True
    parsed = logs.parse_log_name(name)
    if parsed is None:
        return False
    node, day = parsed
    known = {(d.node, d.day) for d in days(session, store, instance_id)}
    if (node, day) not in known:
        return False
    remove_day(session, store, instance_id, node, day)
    return True


def read_days(
    session: Session, store: LogStore, instance_id: str, node: str, wanted: Iterable[date]
) -> bytes:
    """A node's log over ``wanted`` days, uncompressed, as collected up to now."""
    closed = _closed(session, instance_id)
    chunks = _chunks(store, instance_id)
    parts = []
    for day in sorted(wanted):
        row = closed.get((node, day))
        merged = set(row.merged) if row is not None else set()
        if row is not None:
            parts.append(gzip.decompress(store.get(row.object_key)))
        for chunk in chunks.get((node, day), []):
            if chunk.key not in merged:
                parts.append(gzip.decompress(store.get(chunk.key)))
    return b"".join(parts)
