"""ACL rules of an instance: list, add, set (replace all), delete."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import PageDep, PageSizeDep, PrincipalDep, RegionDep, SessionDep
from controlplane.api.schemas.acls import (
    ACLRulesRequest,
    ACLRulesResponse,
    DeleteACLRulesRequest,
    ListInstanceACLRulesResponse,
)
from controlplane.api.schemas.common import wire_response
from controlplane.db.session import session_factory
from controlplane.services import acls as service
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


def _answer(result: service.Rules) -> Response:
    publish_after_commit(session_factory(), [result.operation_id])
    rules = [convert.acl_rule(r, result.port) for r in result.items]
    return wire_response(ACLRulesResponse(rules=rules))


@router.get("/instances/{instance_id}/acls")
def list_instance_acl_rules(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    result = service.list_rules(session, principal, region, instance_id, page, page_size)
    rules = [convert.acl_rule(r, result.port) for r in result.items]
    return wire_response(ListInstanceACLRulesResponse(rules=rules, total_count=result.total_count))


@router.post("/instances/{instance_id}/acls")
async def add_instance_acl_rules(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, ACLRulesRequest)
    return _answer(service.add(session, principal, region, instance_id, body.rules))


@router.put("/instances/{instance_id}/acls")
async def set_instance_acl_rules(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, ACLRulesRequest)
    return _answer(service.replace(session, principal, region, instance_id, body.rules))


@router.delete("/instances/{instance_id}/acls")
async def delete_instance_acl_rules(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, DeleteACLRulesRequest)
    return _answer(service.delete(session, principal, region, instance_id, body.acl_rule_ips))
