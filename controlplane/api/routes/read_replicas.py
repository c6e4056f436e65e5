"""Read replicas: create, get, delete, reset, promote, create endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.read_replicas import (
    CreateReadReplicaEndpointRequest,
    CreateReadReplicaRequest,
)
from controlplane.db.session import session_factory
from controlplane.services import replicas as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.post("/read-replicas")
async def create_read_replica(
    request: Request, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    body = await parse(request, CreateReadReplicaRequest)
    replica, op_id = service.create(
        session, principal, region, body.instance_id, body.endpoint_spec, body.same_zone
    )
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.read_replica(replica))


@router.get("/read-replicas/{read_replica_id}")
def get_read_replica(
    read_replica_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    return wire_response(
        convert.read_replica(service.get(session, principal, region, read_replica_id))
    )


@router.delete("/read-replicas/{read_replica_id}")
def delete_read_replica(
    read_replica_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    replica, op_id = service.delete(session, principal, region, read_replica_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.read_replica(replica))


@router.post("/read-replicas/{read_replica_id}/reset")
def reset_read_replica(
    read_replica_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    replica, op_id = service.reset(session, principal, region, read_replica_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.read_replica(replica))


@router.post("/read-replicas/{read_replica_id}/promote")
def promote_read_replica(
    read_replica_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    instance, op_id = service.promote(session, principal, region, read_replica_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))


@router.post("/read-replicas/{read_replica_id}/endpoints")
async def create_read_replica_endpoint(
    read_replica_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, CreateReadReplicaEndpointRequest)
    replica, op_id = service.create_endpoint(
        session, principal, region, read_replica_id, body.endpoint_spec
    )
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.read_replica(replica))
