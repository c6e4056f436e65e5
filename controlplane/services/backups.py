"""Logical backups of one database: create, get, list, update, delete, export, restore; and
what a signed download needs. Tenancy as everywhere: another organization's backup or
instance is ``not_found``.

The API guards, records, then enqueues: the backup's (and a restore's target instance's)
status moves through the one state machine in the request's transaction, beside the
operation row that the worker runs (workers/backup_jobs.py).
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane import backup_crypto
from controlplane.api.schemas.backups import (
    CreateDatabaseBackupRequest,
    RestoreDatabaseBackupRequest,
    UpdateDatabaseBackupRequest,
)
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.catalog.model import EngineVersion
from controlplane.db.base import utcnow
from controlplane.db.models import DatabaseBackup, Instance
from controlplane.domain import engine_objects as objects
from controlplane.domain.errors import (
    InvalidArguments,
    NotFound,
    PreconditionFailed,
    TransientState,
)
from controlplane.domain.states import DatabaseBackupStatus, InstanceStatus
from controlplane.logstore import signing
from controlplane.services import instances, operations, paging
from controlplane.services.tenancy import Principal
from controlplane.services.transitions import move_backup, move_instance
from controlplane.settings import get_settings

B = DatabaseBackupStatus
ORDERS: dict[str, tuple[Any, ...]] = {
    "created_at_asc": (DatabaseBackup.created_at.asc(), DatabaseBackup.id.asc()),
    "created_at_desc": (DatabaseBackup.created_at.desc(), DatabaseBackup.id.desc()),
    "name_asc": (DatabaseBackup.name.asc(), DatabaseBackup.id.asc()),
    "name_desc": (DatabaseBackup.name.desc(), DatabaseBackup.id.desc()),
    "status_asc": (DatabaseBackup.status.asc(), DatabaseBackup.id.asc()),
    "status_desc": (DatabaseBackup.status.desc(), DatabaseBackup.id.desc()),
}
DOWNLOAD_HOURS = 24.0
NAME_MAX = 255


@dataclass(frozen=True)
class Page:
    items: list[DatabaseBackup]
    total_count: int


@dataclass(frozen=True)
class Submitted:
    backup: DatabaseBackup
    operation_id: str


def object_key(backup: DatabaseBackup) -> str:
    """Under ``backups/``, by instance: nothing from the user but ids we made."""
    return f"backups/{backup.instance_id}/{backup.id}.dump.enc"


def _version(engine: str) -> EngineVersion:
    version = find_engine_version(load_catalog(), engine)
    if version is None:
        raise PreconditionFailed(f"engine {engine} left the catalog")
    return version


def _name_errors(name: str) -> None:
    if not name.strip() or len(name) > NAME_MAX:
        raise InvalidArguments.one("name", f"name must be 1 to {NAME_MAX} characters")


def _expiry_errors(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidArguments.one("expires_at", "expires_at must be in the future")


def _ready_instance(
    session: Session, principal: Principal, region: str, instance_id: str
) -> Instance:
    instance = instances.get(session, principal, region, instance_id)
    if instance.status != InstanceStatus.READY:
        raise TransientState("instance", instance.id, instance.status)
    return instance


def create(
    session: Session, principal: Principal, region: str, body: CreateDatabaseBackupRequest
) -> Submitted:
    instance = _ready_instance(session, principal, region, body.instance_id)
    version = _version(instance.engine)
    name = body.name if body.name is not None else f"bkp-{pysecrets.token_hex(4)}"
    _name_errors(name)
    _expiry_errors(body.expires_at)
    if errors := objects.database_name_errors(
        body.database_name, version.family.value, "database_name"
    ):
        raise InvalidArguments(errors)
    submitted = record_backup(session, instance, body.database_name, name, body.expires_at)
    session.commit()
    return submitted


def record_backup(
    session: Session, instance: Instance, database: str, name: str, expires_at: datetime | None
) -> Submitted:
    """The row (``creating``) and its job, in the caller's transaction."""
    backup = DatabaseBackup(
        organization_id=instance.organization_id,
        project_id=instance.project_id,
        region=instance.region,
        instance_id=instance.id,
        instance_name=instance.name,
        engine=instance.engine,
        database_name=database,
        name=name,
        status=B.CREATING.value,
        tags=[],
        same_region=instance.backup_same_region,
        expires_at=expires_at,
        key_secret=backup_crypto.wrap(backup_crypto.current_key(instance.id)),
    )
    session.add(backup)
    session.flush()
    backup.object_key = object_key(backup)
    op = operations.record(
        session, "create_backup", "database_backup", backup.id, {"source_id": instance.id}
    )
    return Submitted(backup, op.id)


def get(session: Session, principal: Principal, region: str, backup_id: str) -> DatabaseBackup:
    backup = session.get(DatabaseBackup, backup_id)
    if (
        backup is None
        or backup.region != region
        or backup.organization_id != principal.organization_id
    ):
        raise NotFound("database_backup", backup_id)
    return backup


def list_backups(
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
    query = select(DatabaseBackup).where(
        DatabaseBackup.organization_id == principal.organization_id,
        DatabaseBackup.region == region,
    )
    if project_id:
        query = query.where(DatabaseBackup.project_id == project_id)
    if instance_id:
        query = query.where(DatabaseBackup.instance_id == instance_id)
    if name:
        query = query.where(func.lower(DatabaseBackup.name).contains(name.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(*ORDERS[order_by]).offset((page - 1) * size).limit(size)
    ).all()
    return Page(list(rows), int(total))


def update(
    session: Session,
    principal: Principal,
    region: str,
    backup_id: str,
    body: UpdateDatabaseBackupRequest,
) -> DatabaseBackup:
    backup = get(session, principal, region, backup_id)
    if backup.status == B.DELETING:
        raise TransientState("database_backup", backup.id, backup.status)
    if body.name is not None:
        _name_errors(body.name)
        backup.name = body.name
    if body.expires_at is not None:
        _expiry_errors(body.expires_at)
        backup.expires_at = body.expires_at
    session.commit()
    return backup


def delete(session: Session, principal: Principal, region: str, backup_id: str) -> Submitted:
    backup = get(session, principal, region, backup_id)
    if not move_backup(session, backup.id, B.DELETING, row=backup):
        raise TransientState("database_backup", backup.id, backup.status)
    op = operations.record(session, "delete_backup", "database_backup", backup.id)
    session.commit()
    return Submitted(backup, op.id)


def export(session: Session, principal: Principal, region: str, backup_id: str) -> Submitted:
    backup = get(session, principal, region, backup_id)
    if not move_backup(session, backup.id, B.EXPORTING, only_from={B.READY}, row=backup):
        raise TransientState("database_backup", backup.id, backup.status)
    op = operations.record(session, "export_backup", "database_backup", backup.id)
    session.commit()
    return Submitted(backup, op.id)


def restore(
    session: Session,
    principal: Principal,
    region: str,
    backup_id: str,
    body: RestoreDatabaseBackupRequest,
) -> Submitted:
    """Into the same or another instance of the same engine family (PostgreSQL: not an older
    major version, whose pg_restore cannot read the dump); the target shows ``backuping``."""
    backup = get(session, principal, region, backup_id)
    target = instances.get(session, principal, region, body.instance_id)
    source_version, target_version = _version(backup.engine), _version(target.engine)
    if source_version.family != target_version.family:
        raise PreconditionFailed(
            f"a {source_version.engine_name} backup restores into a "
            f"{source_version.engine_name} instance only",
            "engine_family_mismatch",
        )
    if source_version.family.value == "postgresql" and int(target_version.version) < int(
        source_version.version
    ):
        raise PreconditionFailed(
            f"a {source_version.name} backup restores into {source_version.name} or newer",
            "engine_version_too_old",
        )
    database = body.database_name or backup.database_name
    if errors := objects.database_name_errors(
        database, target_version.family.value, "database_name"
    ):
        raise InvalidArguments(errors)
    if backup.status != B.READY:
        raise TransientState("database_backup", backup.id, backup.status)
    if not move_instance(session, target.id, InstanceStatus.BACKUPING,
                         only_from={InstanceStatus.READY}, row=target):  # fmt: skip
        raise TransientState("instance", target.id, target.status)
    if not move_backup(session, backup.id, B.RESTORING, only_from={B.READY}, row=backup):
        session.rollback()
        raise TransientState("database_backup", backup.id, backup.status)
    op = operations.record(
        session, "restore_backup", "database_backup", backup.id,
        {"instance_id": target.id, "database_name": database},
    )  # fmt: skip
    session.commit()
    return Submitted(backup, op.id)


# --- downloads -------------------------------------------------------------------------------


def download_name(backup: DatabaseBackup) -> str:
    """What the exported file is called: the database and when it was taken."""
    family = _family(backup)
    suffix = "dump" if family == "postgresql" else "sql"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in backup.database_name)
    return f"{safe}-{backup.created_at:%Y%m%dT%H%M%SZ}.{suffix}"


def _family(backup: DatabaseBackup) -> str:
    version = find_engine_version(load_catalog(), backup.engine)
    return version.family.value if version else "postgresql"


def signed_name(backup_id: str) -> str:
    """What the signature covers instead of a store key, so that no log download URL can
    ever be made to serve a backup's object (and the reverse)."""
    return f"database_backup:{backup_id}"


def download_url(backup: DatabaseBackup) -> str | None:
    """Signed and expiring; served by the API, which decrypts the dump on the way out."""
    expires_at = backup.download_url_expires_at
    if expires_at is None or expires_at <= utcnow() or backup.status == B.DELETING:
        return None
    expires = int(expires_at.timestamp())
    filename = download_name(backup)
    signature = signing.sign(signed_name(backup.id), filename, expires)
    base = get_settings().public_api_url.rstrip("/")
    return (
        f"{base}/downloads/backups/{backup.id}?filename={filename}"
        f"&expires={expires}&signature={signature}"
    )


def download_expiry() -> datetime:
    return (utcnow() + timedelta(hours=DOWNLOAD_HOURS)).replace(microsecond=0)
