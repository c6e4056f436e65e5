"""Databases of an instance: list, create, delete (answered once the engine did it)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.engine_objects import (
    CreateDatabaseRequest,
    Database,
    ListDatabasesResponse,
)
from controlplane.db.session import session_factory
from controlplane.domain import engine_objects as objects
from controlplane.services import engine_objects as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.get("/instances/{instance_id}/databases")
async def list_databases(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    name: str | None = None,
    managed: bool | None = None,
    owner: str | None = None,
    order_by: str | None = None,
    skip_size_retrieval: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    order = order_by or "name_asc"
    submitted = service.list_objects(
        session, principal, region, instance_id, "list_databases",
        objects.DATABASE_ORDERS, order, page, page_size,
        {"sizes": not skip_size_retrieval},
    )  # fmt: skip
    publish_after_commit(session_factory(), [submitted.operation_id])
    rows = await service.outcome(submitted)
    filters = {"name": name or None, "managed": managed, "owner": owner or None}
    found = objects.select_page(rows, filters, order, objects.DATABASE_ORDERS, page, page_size)
    return wire_response(
        ListDatabasesResponse(
            databases=[Database(**r) for r in found.items], total_count=found.total_count
        )
    )


@router.post("/instances/{instance_id}/databases")
async def create_database(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, CreateDatabaseRequest)
    submitted = service.create_database(session, principal, region, instance_id, body.name)
    publish_after_commit(session_factory(), [submitted.operation_id])
    await service.outcome(submitted)
    # As the real API answers a create: the owner is shown by the list.
    return wire_response(Database(name=body.name, owner="", managed=True, size=0))


@router.delete("/instances/{instance_id}/databases/{name}", status_code=204)
async def delete_database(
    instance_id: str, name: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    submitted = service.delete_database(session, principal, region, instance_id, name)
    publish_after_commit(session_factory(), [submitted.operation_id])
    await service.outcome(submitted)
    return Response(status_code=204, media_type="application/json")
