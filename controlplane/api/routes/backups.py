"""Logical database backups: list, create, get, update, delete, restore, export; and the signed
download of an exported backup (no API key: the URL's signature and expiry are the key),
decrypted on the way out."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from controlplane import backup_compression, backup_crypto
from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas import backups as wire
from controlplane.api.schemas.common import wire_response
from controlplane.db.models import DatabaseBackup
from controlplane.db.session import session_factory
from controlplane.domain.errors import PermissionsDenied
from controlplane.logstore import get_store, signing
from controlplane.services import backups as service
from controlplane.services.operations import publish_after_commit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/rdb/v1/regions/{region}")
downloads = APIRouter()


def database_backup(row: DatabaseBackup) -> wire.DatabaseBackup:
    return wire.DatabaseBackup(
        id=row.id,
        instance_id=row.instance_id,
        database_name=row.database_name,
        name=row.name,
        status=wire.DatabaseBackupStatus(row.status),
        size=row.size,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        instance_name=row.instance_name,
        download_url=service.download_url(row),
        download_url_expires_at=row.download_url_expires_at,
        same_region=row.same_region,
        region=row.region,
    )


@router.get("/backups")
def list_database_backups(
    session: SessionDep, principal: PrincipalDep, region: RegionDep,
    name: str | None = None, order_by: str = "created_at_asc", instance_id: str | None = None,
    organization_id: str | None = None, project_id: str | None = None,
    page: PageDep = 1, page_size: PageSizeDep = None,
) -> Response:  # fmt: skip
    result = service.list_backups(
        session, principal, region, name=name or None, instance_id=instance_id or None,
        organization_id=organization_id or None, project_id=project_id or None,
        order_by=order_by or "created_at_asc", page=page, page_size=page_size,
    )  # fmt: skip
    return wire_response(
        wire.ListDatabaseBackupsResponse(
            database_backups=[database_backup(r) for r in result.items],
            total_count=result.total_count,
        )
    )


@router.post("/backups")
async def create_database_backup(
    request: Request, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    body = await parse(request, wire.CreateDatabaseBackupRequest)
    submitted = service.create(session, principal, region, body)
    publish_after_commit(session_factory(), [submitted.operation_id])
    return wire_response(database_backup(submitted.backup))


@router.get("/backups/{database_backup_id}")
def get_database_backup(
    database_backup_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    return wire_response(
        database_backup(service.get(session, principal, region, database_backup_id))
    )


@router.patch("/backups/{database_backup_id}")
async def update_database_backup(
    database_backup_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.UpdateDatabaseBackupRequest)
    row = service.update(session, principal, region, database_backup_id, body)
    return wire_response(database_backup(row))


@router.delete("/backups/{database_backup_id}")
def delete_database_backup(
    database_backup_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    submitted = service.delete(session, principal, region, database_backup_id)
    publish_after_commit(session_factory(), [submitted.operation_id])
    return wire_response(database_backup(submitted.backup))


@router.post("/backups/{database_backup_id}/restore")
async def restore_database_backup(
    database_backup_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.RestoreDatabaseBackupRequest)
    submitted = service.restore(session, principal, region, database_backup_id, body)
    publish_after_commit(session_factory(), [submitted.operation_id])
    return wire_response(database_backup(submitted.backup))


@router.post("/backups/{database_backup_id}/export")
def export_database_backup(
    database_backup_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    submitted = service.export(session, principal, region, database_backup_id)
    publish_after_commit(session_factory(), [submitted.operation_id])
    return wire_response(database_backup(submitted.backup))


@downloads.get("/downloads/backups/{backup_id}", include_in_schema=False)
def download_backup(
    backup_id: str, filename: str, expires: int, signature: str
) -> StreamingResponse:
    if not signing.verify(service.signed_name(backup_id), filename, expires, signature):
        raise PermissionsDenied("database_backup", "download")
    with session_factory()() as session:
        row = session.get(DatabaseBackup, backup_id)
        if row is None or row.object_key is None or row.status == "deleting":
            raise PermissionsDenied("database_backup", "download")
        key, keys = row.object_key, backup_crypto.keys_for(row.instance_id, row.key_secret)
    try:
        stored = get_store().stream(key)
        plain = backup_compression.plain(backup_crypto.decrypt(stored, keys))  # the dump itself
        first = next(plain, b"")
    except (KeyError, backup_crypto.BackupCorrupted, backup_compression.CorruptedCompression):
        log.exception("backup %s: cannot serve its object", backup_id)
        raise PermissionsDenied("database_backup", "download") from None
    safe_name = "".join(c for c in filename if c.isalnum() or c in "-_.") or "backup.dump"

    def body() -> Iterator[bytes]:
        yield first
        try:
            yield from plain
        except (backup_crypto.BackupCorrupted, backup_compression.CorruptedCompression):
            # cut short: the client sees a truncated file
            log.exception("backup %s: altered object cut the download short", backup_id)
            raise

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )
