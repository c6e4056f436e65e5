"""Instance settings: add (POST, upsert), set (PUT, replace), delete (DELETE with a body)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api.body import parse
from controlplane.api.deps import PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.common import InstanceSetting, wire_response
from controlplane.api.schemas.instances import (
    DeleteInstanceSettingsRequest,
    InstanceSettingsRequest,
    InstanceSettingsResponse,
)
from controlplane.db.models import Instance
from controlplane.db.session import session_factory
from controlplane.services import settings as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}/instances/{instance_id}/settings")


def _answer(instance: Instance, op_id: str | None) -> Response:
    publish_after_commit(session_factory(), [op_id])
    shown = [InstanceSetting(**s) for s in instance.settings]
    return wire_response(InstanceSettingsResponse(settings=shown))


@router.post("")
async def add_instance_settings(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, InstanceSettingsRequest)
    return _answer(*service.add(session, principal, region, instance_id, body.settings))


@router.put("")
async def set_instance_settings(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, InstanceSettingsRequest)
    return _answer(*service.set_all(session, principal, region, instance_id, body.settings))


@router.delete("")
async def delete_instance_settings(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, DeleteInstanceSettingsRequest)
    names = body.setting_names
    return _answer(*service.delete(session, principal, region, instance_id, names))
