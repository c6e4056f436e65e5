"""Restart, upgrade, clone an instance; apply its maintenances."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import wire_response
from controlplane.api.schemas.instances import CloneInstanceRequest, UpgradeInstanceRequest
from controlplane.db.session import session_factory
from controlplane.services import copies, lifecycle, maintenances
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


@router.post("/instances/{instance_id}/restart")
def restart_instance(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    instance, op_id = lifecycle.restart(session, principal, region, instance_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))


@router.post("/instances/{instance_id}/clone")
async def clone_instance(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, CloneInstanceRequest)
    instance, op_id = copies.clone(session, principal, region, instance_id, body)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))


@router.post("/instances/{instance_id}/upgrade")
async def upgrade_instance(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, UpgradeInstanceRequest)
    instance, op_id = lifecycle.upgrade(session, principal, region, instance_id, body)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.instance(instance))


@router.post("/instances/{instance_id}/apply-maintenance")
def apply_instance_maintenance(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    row, op_id = maintenances.apply(session, principal, region, instance_id)
    publish_after_commit(session_factory(), [op_id])
    return wire_response(convert.maintenance(row))
