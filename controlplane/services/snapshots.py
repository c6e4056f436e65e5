"""Snapshots: a copy of an instance's data in the object store, and new instances made from it.

Taking one puts the instance in ``snapshotting`` (the engine keeps serving reads and writes)
and the snapshot in ``creating`` until its job stored the copy. The snapshot keeps, in
``source``, what a new instance needs once the original is gone: its specifications and its
internal passwords (encrypted, in columns of their own that key rotation re-encrypts), since
the copied data holds the service's own accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane import backup_crypto
from controlplane.api.schemas.snapshots import (
    CreateInstanceFromSnapshotRequest,
    CreateSnapshotRequest,
    UpdateSnapshotRequest,
)
from controlplane.db.base import utcnow
from controlplane.db.models import AclRule, Instance, Snapshot
from controlplane.domain import rules
from controlplane.domain.errors import InvalidArguments, NotFound, TransientState
from controlplane.domain.states import InstanceStatus, SnapshotStatus
from controlplane.services import capacity, copies, instances, operations, paging, transitions
from controlplane.services.tenancy import Principal

DEFAULT_LIFETIME = timedelta(days=365)  # the real API's default (created_at + 1 year)
ORDERS: dict[str, tuple[str, bool]] = {
    "created_at_asc": ("created_at", False),
    "created_at_desc": ("created_at", True),
    "name_asc": ("name", False),
    "name_desc": ("name", True),
    "expires_at_asc": ("expires_at", False),
    "expires_at_desc": ("expires_at", True),
}
# What a new instance takes from the snapshot's source (copies.instance_like's fields).
SOURCE_FIELDS = (
    "engine", "node_type", "is_ha_cluster", "high_availability_mode", "tags", "settings",
    "init_settings", "volume_type", "volume_size", "backup_schedule_frequency",
    "backup_schedule_retention", "backup_schedule_disabled", "backup_schedule_start_hour",
    "logs_max_age_retention", "logs_total_disk_retention", "backup_same_region",
    "admin_user_name",
)  # fmt: skip
SECRET_FIELDS = ("superuser_secret", "replication_secret")  # columns of their own (key rotation)


@dataclass(frozen=True)
class Page:
    items: list[Snapshot]
    total_count: int


def object_key(snapshot: Snapshot) -> str:
    return f"snapshots/{snapshot.instance_id}/{snapshot.id}.tar.gz"


def source_of(instance: Instance) -> dict[str, Any]:
    """The instance as a new one made from its snapshot needs it (JSON-ready)."""
    spec: dict[str, Any] = {field: getattr(instance, field) for field in SOURCE_FIELDS}
    spec["acl_rules"] = [{"ip": r.ip, "description": r.description} for r in instance.acl_rules]
    return spec


def instance_from_source(snapshot: Snapshot) -> Instance:
    """A transient (never added) Instance holding the source's specifications."""
    spec = dict(snapshot.source)
    acl = [AclRule(ip=r["ip"], description=r["description"]) for r in spec.pop("acl_rules", [])]
    return Instance(
        organization_id=snapshot.organization_id,
        project_id=snapshot.project_id,
        region=snapshot.region,
        acl_rules=acl,
        superuser_secret=snapshot.superuser_secret,
        replication_secret=snapshot.replication_secret,
        **spec,
    )


def _expiry_errors(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidArguments.one("expires_at", "expires_at must be in the future")


def get(session: Session, principal: Principal, region: str, snapshot_id: str) -> Snapshot:
    row = session.get(Snapshot, snapshot_id, populate_existing=True)
    if row is None or row.region != region or row.organization_id != principal.organization_id:
        raise NotFound("instance_snapshot", snapshot_id)
    return row


def create(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    req: CreateSnapshotRequest,
) -> tuple[Snapshot, str]:
    errors = rules.name_errors(req.name)
    if errors:
        raise InvalidArguments(errors)
    now = utcnow()
    _expiry_errors(req.expires_at, now)
    instance = instances.get(session, principal, region, instance_id)
    if not transitions.move_instance(
        session, instance.id, InstanceStatus.SNAPSHOTTING, only_from={InstanceStatus.READY}
    ):
        raise TransientState("instance", instance.id, instance.status)
    row = Snapshot(
        organization_id=instance.organization_id,
        project_id=instance.project_id,
        region=region,
        instance_id=instance.id,
        instance_name=instance.name,
        name=req.name,
        status=SnapshotStatus.CREATING.value,
        engine=instance.engine,
        node_type=instance.node_type,
        volume_type=instance.volume_type,
        source=source_of(instance),
        superuser_secret=instance.superuser_secret,
        replication_secret=instance.replication_secret,
        key_secret=backup_crypto.wrap(backup_crypto.current_key(instance.id)),
        expires_at=req.expires_at or now + DEFAULT_LIFETIME,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    op = operations.record(session, "create_snapshot", "snapshot", row.id, {})
    session.commit()
    return row, op.id


def list_snapshots(
    session: Session,
    principal: Principal,
    region: str,
    *,
    name: str | None,
    instance_id: str | None,
    organization_id: str | None,
    project_id: str | None,
    order_by: str,
    page: int,
    page_size: int | None,
) -> Page:
    size = paging.page_size(order_by, ORDERS, page, page_size)
    if organization_id and organization_id != principal.organization_id:
        return Page([], 0)
    query = select(Snapshot).where(
        Snapshot.organization_id == principal.organization_id, Snapshot.region == region
    )
    if project_id:
        query = query.where(Snapshot.project_id == project_id)
    if instance_id:
        query = query.where(Snapshot.instance_id == instance_id)
    if name:
        query = query.where(func.lower(Snapshot.name).contains(name.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column, descending = ORDERS[order_by]
    key = getattr(Snapshot, column)
    rows = session.scalars(
        query.order_by(key.desc() if descending else key.asc(), Snapshot.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Page(list(rows), int(total))


def update(
    session: Session,
    principal: Principal,
    region: str,
    snapshot_id: str,
    req: UpdateSnapshotRequest,
) -> Snapshot:
    row = get(session, principal, region, snapshot_id)
    if req.name is not None:
        errors = rules.name_errors(req.name)
        if errors:
            raise InvalidArguments(errors)
        row.name = req.name
    if req.expires_at is not None:
        _expiry_errors(req.expires_at, utcnow())
        row.expires_at = req.expires_at
    row.updated_at = utcnow()
    session.commit()
    return row


def delete(
    session: Session, principal: Principal, region: str, snapshot_id: str
) -> tuple[Snapshot, str]:
    row = get(session, principal, region, snapshot_id)
    op_id = start_deletion(session, row)
    if op_id is None:
        raise TransientState("instance_snapshot", row.id, row.status)
    session.commit()
    session.refresh(row)
    return row, op_id


def start_deletion(session: Session, row: Snapshot) -> str | None:
    """``deleting`` and its job recorded (not committed); None when its status forbids it
    (already deleting, or still being taken: its job would write the object afterwards)."""
    allowed = {SnapshotStatus.READY, SnapshotStatus.ERROR, SnapshotStatus.LOCKED}
    if not transitions.move_snapshot(session, row.id, SnapshotStatus.DELETING, only_from=allowed):
        return None
    return operations.record(session, "delete_snapshot", "snapshot", row.id, {}).id


def expired(session: Session, now: datetime) -> list[Snapshot]:
    return list(
        session.scalars(
            select(Snapshot).where(
                Snapshot.expires_at <= now,
                Snapshot.status.in_([SnapshotStatus.READY.value, SnapshotStatus.ERROR.value]),
            )
        )
    )


def create_instance(
    session: Session,
    principal: Principal,
    region: str,
    snapshot_id: str,
    req: CreateInstanceFromSnapshotRequest,
) -> tuple[Instance, str]:
    """A new instance holding exactly the snapshot's data (the clone's machinery, its main
    node restored from the stored copy), optionally HA or on another node type."""
    snapshot = get(session, principal, region, snapshot_id)
    errors = rules.name_errors(req.instance_name, "instance_name")
    if errors:
        raise InvalidArguments(errors)
    if snapshot.status != SnapshotStatus.READY:  # before anything reads its source
        raise TransientState("instance_snapshot", snapshot.id, snapshot.status)
    source = instance_from_source(snapshot)
    node_type, size, settings = copies.resized(source, req.node_type)
    ha, mode = source.is_ha_cluster, req.high_availability_mode
    if req.is_ha_cluster is not None or mode not in (None, "unknown_high_availability_mode"):
        ha = bool(req.is_ha_cluster) or mode in ("single_zone", "multiple_zone")
    capacity.lock(session)
    # ``restoring`` until the new main node holds the data: it cannot be deleted meanwhile.
    if not transitions.move_snapshot(
        session, snapshot.id, SnapshotStatus.RESTORING, only_from={SnapshotStatus.READY}
    ):
        raise TransientState("instance_snapshot", snapshot.id, snapshot.status)
    row = copies.instance_like(
        source,
        req.instance_name,
        node_type=node_type.name,
        volume_size=size,
        settings=settings,
        is_ha_cluster=ha,
        high_availability_mode="single_zone" if ha else "disabled",
        sync_mode="degraded" if ha else "none",
    )
    copies.admit(session, row, node_type)
    return row, copies.record(
        session, row, "create_instance_from_snapshot", {"snapshot_id": snapshot.id}
    )
