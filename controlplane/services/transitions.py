"""Every status change of an instance or a read replica goes through here, as a guarded move.

A move is one conditional ``UPDATE ... SET status = :target WHERE id = :id AND status IN
(:sources)``, its row count telling whether it happened. The sources are every status the state
machine (``domain/states.py``) allows to reach the target, optionally narrowed by the caller.
Two requests, jobs or monitors racing on one row cannot both move it: on PostgreSQL the second
UPDATE waits for the first's row lock and re-checks its WHERE clause on the new row; on SQLite
the first write takes the database lock and the second runs after it, on fresh data. Nothing
reads a status, decides, then writes it back.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from controlplane.db.base import utcnow
from controlplane.db.models import DatabaseBackup, Instance, ReadReplica, Snapshot
from controlplane.domain.failures import Cancelled
from controlplane.domain.states import (
    BACKUP_TRANSITIONS,
    INSTANCE_TRANSITIONS,
    REPLICA_TRANSITIONS,
    SNAPSHOT_TRANSITIONS,
    DatabaseBackupStatus,
    InstanceStatus,
    InvalidTransition,
    ReadReplicaStatus,
    SnapshotStatus,
)


def instance_sources(target: InstanceStatus) -> frozenset[InstanceStatus]:
    """Statuses from which ``target`` may be reached (not itself: a start is exclusive)."""
    return frozenset(s for s, targets in INSTANCE_TRANSITIONS.items() if target in targets)


def replica_sources(target: ReadReplicaStatus) -> frozenset[ReadReplicaStatus]:
    return frozenset(s for s, targets in REPLICA_TRANSITIONS.items() if target in targets)


def _move(
    session: Session,
    model: type[Any],
    row_id: str,
    target: str,
    sources: Collection[str],
    reason: str | None,
    row: Any | None,
) -> bool:
    values: dict[str, Any] = {"status": target, "status_reason": reason}
    if model is Instance or model is DatabaseBackup:
        values["updated_at"] = utcnow()
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_([str(s) for s in sources]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    moved = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if row is not None:
        session.refresh(row)
    return moved


def move_instance(
    session: Session,
    instance_id: str,
    target: InstanceStatus,
    *,
    reason: str | None = None,
    only_from: Collection[InstanceStatus] | None = None,
    row: Instance | None = None,
) -> bool:
    """True when the instance moved to ``target`` (``row``, if given, is refreshed); False
    when its status allows no such move (another request or job moved it first)."""
    sources = instance_sources(target)
    if only_from is not None:
        sources &= frozenset(only_from)
    return _move(session, Instance, instance_id, target.value, sources, reason, row)


def settle_instance(
    session: Session, instance: Instance, target: InstanceStatus, reason: str | None = None
) -> None:
    """A job's move: ``Cancelled`` when the instance is being deleted meanwhile,
    ``InvalidTransition`` when its status allows no such move."""
    if instance.status == target:
        instance.status_reason = reason
        return
    if not move_instance(session, instance.id, target, reason=reason, row=instance):
        if instance.status == InstanceStatus.DELETING:
            raise Cancelled(f"instance {instance.id} is being deleted")
        raise InvalidTransition("instance", instance.status, target)


def settle_replica(
    session: Session, replica: ReadReplica, target: ReadReplicaStatus, reason: str | None = None
) -> None:
    if replica.status == target:
        replica.status_reason = reason
        return
    if not move_replica(session, replica.id, target, reason=reason, row=replica):
        if replica.status == ReadReplicaStatus.DELETING:
            raise Cancelled(f"read replica {replica.id} is being deleted")
        raise InvalidTransition("read_replica", replica.status, target)


def move_replica(
    session: Session,
    replica_id: str,
    target: ReadReplicaStatus,
    *,
    reason: str | None = None,
    only_from: Collection[ReadReplicaStatus] | None = None,
    row: ReadReplica | None = None,
) -> bool:
    sources = replica_sources(target)
    if only_from is not None:
        sources &= frozenset(only_from)
    return _move(session, ReadReplica, replica_id, target.value, sources, reason, row)


def move_snapshot(
    session: Session,
    snapshot_id: str,
    target: SnapshotStatus,
    *,
    reason: str | None = None,
    only_from: Collection[SnapshotStatus] | None = None,
) -> bool:
    sources = frozenset(s for s, targets in SNAPSHOT_TRANSITIONS.items() if target in targets)
    if only_from is not None:
        sources &= frozenset(only_from)
    return _move(session, Snapshot, snapshot_id, target.value, sources, reason, None)


def move_backup(
    session: Session,
    backup_id: str,
    target: DatabaseBackupStatus,
    *,
    reason: str | None = None,
    only_from: Collection[DatabaseBackupStatus] | None = None,
    row: DatabaseBackup | None = None,
) -> bool:
    sources = frozenset(s for s, targets in BACKUP_TRANSITIONS.items() if target in targets)
    if only_from is not None:
        sources &= frozenset(only_from)
    return _move(session, DatabaseBackup, backup_id, target.value, sources, reason, row)
