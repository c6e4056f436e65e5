"""Node types and database engines, served from the catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.engines import ListDatabaseEnginesResponse, engine_from_catalog
from controlplane.api.schemas.node_types import ListNodeTypesResponse, node_type_from_catalog
from controlplane.catalog import load_catalog
from controlplane.domain.errors import InvalidArguments
from controlplane.services import capacity

router = APIRouter(prefix="/rdb/v1/regions/{region}")


def _page(items: list[Any], page: int, page_size: int | None) -> list[Any]:
    if page < 1:
        raise InvalidArguments.one("page", "page starts at 1")
    size = page_size or 100
    if not 1 <= size <= 100:
        raise InvalidArguments.one("page_size", "page_size must be 1 to 100")
    return items[(page - 1) * size : page * size]


@router.get("/node-types")
def list_node_types(
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    include_disabled_types: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    catalog = load_catalog()
    host_mem = capacity.host_memory_bytes()
    used = capacity.usage(session, catalog, host_mem).memory
    rows = []
    for node_type in catalog.node_types:
        if node_type.disabled and not include_disabled_types:
            continue
        wire = node_type_from_catalog(node_type, region)
        wire.stock_status = capacity.stock_status(node_type, used, host_mem)  # type: ignore[assignment]
        rows.append(wire)
    return wire_response(
        ListNodeTypesResponse(node_types=_page(rows, page, page_size), total_count=len(rows))
    )


@router.get("/database-engines")
def list_database_engines(
    principal: PrincipalDep,
    region: RegionDep,
    name: str | None = None,
    version: str | None = None,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    engines = []
    for family in load_catalog().engines:
        if name and family.name.lower() != name.lower():
            continue
        wire = engine_from_catalog(family, region)
        if version:
            wire.versions = [v for v in wire.versions if v.version == version]
            if not wire.versions:
                continue
        engines.append(wire)
    return wire_response(
        ListDatabaseEnginesResponse(
            engines=_page(engines, page, page_size), total_count=len(engines)
        )
    )
