"""Point-in-time recovery (an extension of the RDB API): a new instance holding an instance's
data as it was at a given time, from the latest snapshot complete by then (the base backup)
and the WAL segments the instance archived continuously (workers/wal_archive.py).

MariaDB: the same from a mariadb-backup snapshot and the binlogs the main node wrote
(workers/binlog_archive.py), replayed from the snapshot's binlog position.

The window opens when the instance's first snapshot is complete and ends now: the job makes the
source seal its archive first. A MariaDB window that spans a change of main node (failover) is
refused: the snapshot's binlog position belongs to the node it was taken from.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.api.schemas.pitr import RestoreToTimeRequest
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation, Snapshot
from controlplane.domain import rules
from controlplane.domain.errors import InvalidArguments, TransientState
from controlplane.domain.states import InstanceStatus, OperationStatus, SnapshotStatus
from controlplane.services import capacity, copies, instances, transitions
from controlplane.services.snapshots import instance_from_source
from controlplane.services.tenancy import Principal

KIND = "restore_instance_to_time"
ENGINES = ("PostgreSQL", "MariaDB")  # MySQL 8 has no physical snapshot here
SOURCE_STATUSES = {InstanceStatus.READY, InstanceStatus.SNAPSHOTTING, InstanceStatus.BACKUPING}
# Snapshots a restore may start from: the archive is kept while the instance has one of these.
BASES = tuple(
    s.value
    for s in (SnapshotStatus.CREATING, SnapshotStatus.READY, SnapshotStatus.RESTORING,
              SnapshotStatus.LOCKED)
)  # fmt: skip


def with_base(session: Session) -> set[str]:
    """The instances with a snapshot a restore may start from."""
    query = select(Snapshot.instance_id).where(Snapshot.status.in_(BASES)).distinct()
    return set(session.scalars(query))


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def base_backup(session: Session, instance_id: str, target: datetime) -> Snapshot | None:
    """The latest snapshot of the instance complete by ``target``: its job had finished (the
    backup ended a little earlier), which the snapshot's own timestamps do not tell."""
    return session.scalars(
        select(Snapshot)
        .join(Operation, Operation.resource_id == Snapshot.id)
        .where(
            Snapshot.instance_id == instance_id,
            Snapshot.status.in_([SnapshotStatus.READY.value, SnapshotStatus.RESTORING.value]),
            Operation.kind == "create_snapshot",
            Operation.status == OperationStatus.SUCCEEDED.value,
            Operation.finished_at <= target,
        )
        .order_by(Operation.finished_at.desc())
        .limit(1)
    ).first()


def _main_changed(session: Session, instance: Instance, snapshot: Snapshot) -> bool:
    """The snapshot was taken on another node than today's main one (its job records which)."""
    taken_on = session.scalars(
        select(Operation.params).where(
            Operation.resource_id == snapshot.id, Operation.kind == "create_snapshot"
        )
    ).first()
    node = (taken_on or {}).get("node")
    main = next((n.name for n in instance.nodes if n.role == "primary"), None)
    return node is not None and node != main


def restore_to_time(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    req: RestoreToTimeRequest,
) -> tuple[Instance, str]:
    errors = rules.name_errors(req.name)
    if errors:
        raise InvalidArguments(errors)
    instance = instances.get(session, principal, region, instance_id)
    version = find_engine_version(load_catalog(), instance.engine)
    if version is None or version.engine_name not in ENGINES:
        raise InvalidArguments.one(
            "instance_id", "point-in-time recovery is available for PostgreSQL and MariaDB only"
        )
    target = as_utc(req.target_time)
    if target >= utcnow():
        raise InvalidArguments.one("target_time", "target_time must be in the past")
    snapshot = base_backup(session, instance.id, target)
    if snapshot is None:
        raise InvalidArguments.one(
            "target_time",
            "target_time is before the instance's first complete snapshot (the base backup "
            "point-in-time recovery starts from): take a snapshot first",
        )
    if version.family.value == "mysql" and _main_changed(session, instance, snapshot):
        raise InvalidArguments.one(
            "target_time",
            "the main node changed (failover) after the snapshot this time would start from: "
            "its binlog position is the former main node's; take a snapshot and pick a later "
            "time",
        )
    if InstanceStatus(instance.status) not in SOURCE_STATUSES:
        raise TransientState("instance", instance.id, instance.status)
    source = instance_from_source(snapshot)
    node_type, size, settings = copies.resized(source, None)
    capacity.lock(session)
    if not transitions.move_snapshot(
        session, snapshot.id, SnapshotStatus.RESTORING, only_from={SnapshotStatus.READY}
    ):
        raise TransientState("instance_snapshot", snapshot.id, snapshot.status)
    row = copies.instance_like(
        source,
        req.name,
        node_type=node_type.name,
        volume_size=size,
        settings=settings,
        is_ha_cluster=False,
        high_availability_mode="disabled",
        sync_mode="none",
    )
    copies.admit(session, row, node_type)
    params: dict[str, object] = {"snapshot_id": snapshot.id, "source_id": instance.id,
              "target_time": target.isoformat()}  # fmt: skip
    return row, copies.record(session, row, KIND, params)
