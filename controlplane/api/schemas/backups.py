"""Logical backups on the wire (scaleway-rdb-api.md 3.4, 5): DatabaseBackup and its requests."""

from __future__ import annotations

from enum import StrEnum

from controlplane.api.schemas.common import Timestamp, WireRequest, WireResponse


class DatabaseBackupStatus(StrEnum):
    UNKNOWN = "unknown"
    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"
    DELETING = "deleting"
    ERROR = "error"
    EXPORTING = "exporting"
    LOCKED = "locked"


class DatabaseBackup(WireResponse):
    id: str
    instance_id: str
    database_name: str
    name: str
    status: DatabaseBackupStatus
    size: int | None = None
    expires_at: Timestamp | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    instance_name: str
    download_url: str | None = None
    download_url_expires_at: Timestamp | None = None
    same_region: bool
    region: str


class ListDatabaseBackupsResponse(WireResponse):
    database_backups: list[DatabaseBackup]
    total_count: int


class CreateDatabaseBackupRequest(WireRequest):
    instance_id: str
    database_name: str
    name: str | None = None
    expires_at: Timestamp | None = None


class UpdateDatabaseBackupRequest(WireRequest):
    name: str | None = None
    expires_at: Timestamp | None = None


class RestoreDatabaseBackupRequest(WireRequest):
    instance_id: str
    database_name: str | None = None
