"""Instance logs: prepare, list, get, details, purge; and the signed download of a prepared
log from the filesystem store (no API key: the URL's signature and expiry are the key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas import logs as wire
from controlplane.api.schemas.common import wire_response
from controlplane.db.models import Instance, InstanceLog
from controlplane.db.session import session_factory
from controlplane.domain.errors import InvalidArguments, PermissionsDenied
from controlplane.logstore import get_store, signing
from controlplane.logstore.filesystem import FilesystemStore
from controlplane.services import logs as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")
downloads = APIRouter()
ORDERS = {"created_at_asc": False, "created_at_desc": True}


def instance_log(session: Session, row: InstanceLog) -> wire.InstanceLog:
    instance = session.get(Instance, row.instance_id)
    family = service.family(instance) if instance is not None else "engine"
    return wire.InstanceLog(
        id=row.id,
        status=wire.InstanceLogStatus(row.status),
        node_name=row.node_name,
        region=row.region,
        download_url=service.download_url(row, family),
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


@router.post("/instances/{instance_id}/prepare-logs")
async def prepare_instance_logs(
    instance_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.PrepareInstanceLogsRequest)
    prepared = service.prepare(
        session, principal, region, instance_id, body.start_date, body.end_date
    )
    publish_after_commit(session_factory(), [prepared.operation_id])
    logs = [instance_log(session, row) for row in prepared.rows]
    return wire_response(wire.InstanceLogsResponse(instance_logs=logs))


@router.get("/instances/{instance_id}/logs")
def list_instance_logs(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep,
    order_by: str = "created_at_asc",
) -> Response:  # fmt: skip
    if (order_by or "created_at_asc") not in ORDERS:
        raise InvalidArguments.one("order_by", f"one of {', '.join(ORDERS)}")
    rows = service.list_logs(
        session, principal, region, instance_id, ORDERS[order_by or "created_at_asc"]
    )
    logs = [instance_log(session, row) for row in rows]
    return wire_response(wire.InstanceLogsResponse(instance_logs=logs))


@router.get("/logs/{instance_log_id}")
def get_instance_log(
    instance_log_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    return wire_response(
        instance_log(session, service.get(session, principal, region, instance_log_id))
    )


@router.get("/instances/{instance_id}/logs-details")
def list_instance_logs_details(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    details = [
        wire.InstanceLogDetail(log_name=name, size=size)
        for name, size in service.details(session, principal, region, instance_id)
    ]
    return wire_response(wire.ListInstanceLogsDetailsResponse(details=details))


@router.post("/instances/{instance_id}/purge-logs", status_code=204)
async def purge_instance_logs(
    instance_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, wire.PurgeInstanceLogsRequest)
    service.purge(session, principal, region, instance_id, body.log_name or None)
    return Response(status_code=204)


@downloads.get("/downloads/logs/{key:path}", include_in_schema=False)
def download_log(key: str, filename: str, expires: int, signature: str) -> StreamingResponse:
    store = get_store()
    if not isinstance(store, FilesystemStore) or not signing.verify(
        key, filename, expires, signature
    ):
        raise PermissionsDenied("instance_log", "download")
    try:
        chunks = store.stream(key)
        first = next(chunks, b"")
    except KeyError:
        raise PermissionsDenied("instance_log", "download") from None
    safe_name = "".join(c for c in filename if c.isalnum() or c in "-_.") or "instance.log"

    def body() -> Any:
        yield first
        yield from chunks

    return StreamingResponse(
        body(),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )
