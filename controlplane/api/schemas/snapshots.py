"""Snapshots on the wire (scaleway-rdb-api.md 3.5, 5): Snapshot, its list, and the bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from controlplane.api.schemas.common import Timestamp, WireRequest, WireResponse, null_as
from controlplane.api.schemas.enums import SnapshotStatus, StorageClass, VolumeType


class SnapshotVolumeType(WireResponse):
    """``{"type", "class"}`` (no size, unlike an instance's volume)."""

    volume_type: VolumeType = Field(serialization_alias="type")
    storage_class: StorageClass = Field(serialization_alias="class")


class Snapshot(WireResponse):
    id: str
    instance_id: str
    name: str
    status: SnapshotStatus
    size: int | None
    expires_at: Timestamp | None
    created_at: Timestamp | None
    updated_at: Timestamp | None
    instance_name: str
    node_type: str
    volume_type: SnapshotVolumeType
    region: str


class ListSnapshotsResponse(WireResponse):
    snapshots: list[Snapshot]
    total_count: int


class CreateSnapshotRequest(WireRequest):
    name: Annotated[str, null_as("")] = ""
    expires_at: Timestamp | None = None


class UpdateSnapshotRequest(WireRequest):
    name: str | None = None
    expires_at: Timestamp | None = None


class CreateInstanceFromSnapshotRequest(WireRequest):
    instance_name: str
    is_ha_cluster: bool | None = None
    high_availability_mode: str | None = None
    node_type: str | None = None
