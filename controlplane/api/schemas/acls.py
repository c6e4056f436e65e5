"""ACLRule (response, 3.6) and the ACL request bodies (5.5)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from controlplane.api.schemas.common import NULL_AS_EMPTY_LIST, WireRequest, WireResponse, null_as
from controlplane.api.schemas.enums import ACLRuleAction, ACLRuleDirection, ACLRuleProtocol


class ACLRule(WireResponse):
    """Always an inbound TCP allow rule; ``port`` (deprecated) is the load balancer's."""

    ip: str
    port: int | None = None
    protocol: ACLRuleProtocol = ACLRuleProtocol.TCP
    direction: ACLRuleDirection = ACLRuleDirection.INBOUND
    action: ACLRuleAction = ACLRuleAction.ALLOW
    description: str


class ListInstanceACLRulesResponse(WireResponse):
    rules: list[ACLRule]
    total_count: int


class ACLRulesResponse(WireResponse):
    """Add/Set/DeleteInstanceACLRulesResponse: ``{"rules": [...]}``."""

    rules: list[ACLRule]


class ACLRuleRequest(WireRequest):
    ip: str
    description: Annotated[str, null_as("")] = ""


class ACLRulesRequest(WireRequest):
    """POST (add) and PUT (replace every rule) ``/acls``."""

    rules: Annotated[list[ACLRuleRequest], NULL_AS_EMPTY_LIST] = Field(default_factory=list)


class DeleteACLRulesRequest(WireRequest):
    acl_rule_ips: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
