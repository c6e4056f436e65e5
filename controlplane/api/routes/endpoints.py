"""Endpoints: get, create (on an instance), delete (204), migrate to another instance."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.endpoints import CreateEndpointRequest, MigrateEndpointRequest
from controlplane.db.session import session_factory
from controlplane.services import endpoints as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.get("/endpoints/{endpoint_id}")
def get_endpoint(
    endpoint_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    return wire_response(convert.endpoint(service.get(session, principal, region, endpoint_id)))


@router.post("/instances/{instance_id}/endpoints")
async def create_endpoint(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, CreateEndpointRequest)
    endpoint, op_id = service.create(session, principal, region, instance_id, body.endpoint_spec)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.endpoint(endpoint))


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    op_id = service.delete(session, principal, region, endpoint_id)
    publish_after_commit(session_factory(), [op_id])
    return Response(status_code=204, media_type="application/json")


@router.post("/endpoints/{endpoint_id}/migrate")
async def migrate_endpoint(
    endpoint_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, MigrateEndpointRequest)
    endpoint, op_id = service.migrate(session, principal, region, endpoint_id, body.instance_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.endpoint(endpoint))
