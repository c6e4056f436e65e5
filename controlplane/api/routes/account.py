"""The key's projects, as Scaleway's Account API v3 lists them (the console's project switcher)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, SessionDep
from controlplane.api.schemas.account import AccountProject, ListProjectsResponse
from controlplane.api.schemas.common import wire_response
from controlplane.services import projects as service

router = APIRouter(prefix="/account/v3")


@router.get("/projects")
def list_projects(
    session: SessionDep,
    principal: PrincipalDep,
    organization_id: str | None = None,
    name: str | None = None,
    order_by: str | None = None,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    rows, total = service.list_projects(
        session,
        principal,
        organization_id=organization_id,
        name=name,
        order_by=order_by,
        page=page,
        page_size=page_size,
    )
    projects = [
        AccountProject(
            id=p.id,
            name=p.name,
            organization_id=p.organization_id,
            created_at=p.created_at,
            updated_at=p.created_at,  # projects are never edited here
        )
        for p in rows
    ]
    return wire_response(ListProjectsResponse(total_count=total, projects=projects))
