"""Privileges of an instance's users on its databases: list, set."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.engine_objects import (
    ListPrivilegesResponse,
    Privilege,
    SetPrivilegeRequest,
)
from controlplane.db.session import session_factory
from controlplane.domain import engine_objects as objects
from controlplane.services import engine_objects as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.get("/instances/{instance_id}/privileges")
async def list_privileges(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    database_name: str | None = None,
    user_name: str | None = None,
    order_by: str | None = None,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    order = order_by or "user_name_asc"
    submitted = service.list_objects(
        session, principal, region, instance_id, "list_privileges",
        objects.PRIVILEGE_ORDERS, order, page, page_size,
    )  # fmt: skip
    publish_after_commit(session_factory(), [submitted.operation_id])
    rows = await service.outcome(submitted)
    filters = {"database_name": database_name or None, "user_name": user_name or None}
    found = objects.select_page(rows, filters, order, objects.PRIVILEGE_ORDERS, page, page_size)
    return wire_response(
        ListPrivilegesResponse(
            privileges=[Privilege(**r) for r in found.items], total_count=found.total_count
        )
    )


@router.put("/instances/{instance_id}/privileges")
async def set_privilege(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, SetPrivilegeRequest)
    submitted = service.set_privilege(
        session, principal, region, instance_id,
        body.database_name, body.user_name, body.permission,
    )  # fmt: skip
    publish_after_commit(session_factory(), [submitted.operation_id])
    await service.outcome(submitted)
    return wire_response(
        Privilege(
            permission=body.permission,  # type: ignore[arg-type]
            database_name=body.database_name,
            user_name=body.user_name,
        )
    )
