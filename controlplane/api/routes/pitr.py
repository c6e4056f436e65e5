"""Point-in-time recovery (an extension): a new instance from an instance's data at a time."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.pitr import RestoreToTimeRequest
from controlplane.db.session import session_factory
from controlplane.services import pitr as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.post("/instances/{instance_id}/restore-to-time")
async def restore_to_time(
    instance_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
    region: RegionDep,
) -> Response:  # fmt: skip
    body = await parse(request, RestoreToTimeRequest)
    instance, op_id = service.restore_to_time(session, principal, region, instance_id, body)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))
