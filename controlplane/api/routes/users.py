"""Users of an instance: list, create, update, delete (answered once the engine did it)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.engine_objects import (
    CreateUserRequest,
    ListUsersResponse,
    UpdateUserRequest,
    User,
)
from controlplane.db.session import session_factory
from controlplane.domain import engine_objects as objects
from controlplane.services import engine_objects as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.get("/instances/{instance_id}/users")
async def list_users(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    name: str | None = None,
    order_by: str | None = None,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    order = order_by or "name_asc"
    submitted = service.list_objects(
        session, principal, region, instance_id, "list_users",
        objects.USER_ORDERS, order, page, page_size,
    )  # fmt: skip
    publish_after_commit(session_factory(), [submitted.operation_id])
    rows = await service.outcome(submitted)
    found = objects.select_page(
        rows, {"name": name or None}, order, objects.USER_ORDERS, page, page_size
    )
    return wire_response(
        ListUsersResponse(users=[User(**r) for r in found.items], total_count=found.total_count)
    )


@router.post("/instances/{instance_id}/users")
async def create_user(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, CreateUserRequest)
    submitted = service.create_user(
        session, principal, region, instance_id, body.name, body.password, body.is_admin
    )
    publish_after_commit(session_factory(), [submitted.operation_id])
    await service.outcome(submitted)
    return wire_response(User(name=body.name, is_admin=body.is_admin))


@router.patch("/instances/{instance_id}/users/{name}")
async def update_user(
    instance_id: str,
    name: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, UpdateUserRequest)
    submitted = service.update_user(
        session, principal, region, instance_id, name, body.password, body.is_admin
    )
    publish_after_commit(session_factory(), [submitted.operation_id])
    return wire_response(User(**await service.outcome(submitted)))


@router.delete("/instances/{instance_id}/users/{name}", status_code=204)
async def delete_user(
    instance_id: str, name: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    submitted = service.delete_user(session, principal, region, instance_id, name)
    publish_after_commit(session_factory(), [submitted.operation_id])
    await service.outcome(submitted)
    return Response(status_code=204, media_type="application/json")
