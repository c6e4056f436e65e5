"""Snapshots: create (of an instance), list, get, update, delete; a new instance from one."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas import snapshots as wire
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.enums import SnapshotStatus, VolumeType, storage_class_of
from controlplane.db.models import Snapshot
from controlplane.db.session import session_factory
from controlplane.services import snapshots as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


def snapshot(row: Snapshot) -> wire.Snapshot:
    volume_type = VolumeType(row.volume_type)
    return wire.Snapshot(
        id=row.id,
        instance_id=row.instance_id,
        name=row.name,
        status=SnapshotStatus(row.status),
        size=row.size,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        instance_name=row.instance_name,
        node_type=row.node_type,
        volume_type=wire.SnapshotVolumeType(
            volume_type=volume_type, storage_class=storage_class_of(volume_type)
        ),
        region=row.region,
    )


@router.post("/instances/{instance_id}/snapshots")
async def create_snapshot(
    instance_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.CreateSnapshotRequest)
    row, op_id = service.create(session, principal, region, instance_id, body)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(snapshot(row))


@router.get("/snapshots")
def list_snapshots(
    session: SessionDep, principal: PrincipalDep, region: RegionDep,
    name: str | None = None, order_by: str = "created_at_asc", instance_id: str | None = None,
    organization_id: str | None = None, project_id: str | None = None,
    page: PageDep = 1, page_size: PageSizeDep = None,
) -> Response:  # fmt: skip
    result = service.list_snapshots(
        session, principal, region, name=name or None, instance_id=instance_id or None,
        organization_id=organization_id or None, project_id=project_id or None,
        order_by=order_by or "created_at_asc", page=page, page_size=page_size,
    )  # fmt: skip
    return wire_response(
        wire.ListSnapshotsResponse(
            snapshots=[snapshot(r) for r in result.items], total_count=result.total_count
        )
    )


@router.get("/snapshots/{snapshot_id}")
def get_snapshot(
    snapshot_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    return wire_response(snapshot(service.get(session, principal, region, snapshot_id)))


@router.patch("/snapshots/{snapshot_id}")
async def update_snapshot(
    snapshot_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.UpdateSnapshotRequest)
    return wire_response(snapshot(service.update(session, principal, region, snapshot_id, body)))


@router.delete("/snapshots/{snapshot_id}")
def delete_snapshot(
    snapshot_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    row, op_id = service.delete(session, principal, region, snapshot_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(snapshot(row))


@router.post("/snapshots/{snapshot_id}/create-instance")
async def create_instance_from_snapshot(
    snapshot_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.CreateInstanceFromSnapshotRequest)
    instance, op_id = service.create_instance(session, principal, region, snapshot_id, body)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))
