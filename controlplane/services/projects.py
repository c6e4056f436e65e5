"""The caller's projects, as Scaleway's Account API lists them (the console's project switcher)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import UnaryExpression, func, select
from sqlalchemy.orm import Session

from controlplane.db.models import Project
from controlplane.domain.errors import InvalidArguments, PermissionsDenied
from controlplane.services.tenancy import Principal

ORDERS: dict[str, UnaryExpression[Any]] = {
    "created_at_asc": Project.created_at.asc(),
    "created_at_desc": Project.created_at.desc(),
    "name_asc": Project.name.asc(),
    "name_desc": Project.name.desc(),
}


def list_projects(
    session: Session,
    principal: Principal,
    *,
    organization_id: str | None = None,
    name: str | None = None,
    order_by: str | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> tuple[list[Project], int]:
    """Only the key's organization: naming another one is refused, not answered empty."""
    if organization_id and organization_id != principal.organization_id:
        raise PermissionsDenied(resource=f"organization:{organization_id}", action="read")
    size = page_size or 50
    if not 1 <= size <= 100:
        raise InvalidArguments.one("page_size", "page_size must be 1 to 100")
    order = ORDERS.get(order_by or "created_at_asc")
    if order is None:
        raise InvalidArguments.one("order_by", f"order_by must be one of {', '.join(ORDERS)}")
    query = select(Project).where(Project.organization_id == principal.organization_id)
    if name:
        query = query.where(Project.name.contains(name))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(order, Project.id).offset((page - 1) * size).limit(size)
    ).all()
    return list(rows), total
