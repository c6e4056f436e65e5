"""ACL rules of an instance: list, add, replace, delete (validate, lock, guard, record, enqueue).

The rows are the desired state. A request that changes the admitted networks moves the instance
from ``ready`` to ``configuring`` and records an ``apply_acl`` operation; its job makes the load
balancer and every read replica's direct access admit exactly those networks, live, then the
instance is ``ready`` again (workers/acl_jobs.py). A change of descriptions only is bookkeeping:
no job, the instance stays ``ready``. Bad input is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from controlplane.api.schemas.acls import ACLRuleRequest
from controlplane.db.models import AclRule, Instance
from controlplane.domain import acl
from controlplane.domain.errors import InvalidArguments, TransientState
from controlplane.domain.states import InstanceStatus
from controlplane.services import instances, operations, paging
from controlplane.services.tenancy import Principal

OPERATION = "apply_acl"


@dataclass(frozen=True)
class Rules:
    """An instance's rules (or a page, or the deleted ones) and what the wire shows beside them."""

    items: list[AclRule]
    total_count: int
    port: int | None  # the load balancer's (ACLRule.port, deprecated)
    operation_id: str | None = None


def copied_rules(source: Instance) -> list[AclRule]:
    """An instance made from another (clone, major upgrade, promoted replica) admits the
    same networks: a copy of restricted data is not opened to everybody."""
    return [AclRule(ip=r.ip, description=r.description) for r in source.acl_rules]


def _port(instance: Instance) -> int | None:
    return next(
        (
            e.port
            for e in instance.endpoints
            if e.kind == "load_balancer" and e.read_replica_id is None
        ),
        None,
    )


def list_rules(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    page: int,
    page_size: int | None,
) -> Rules:
    size = page_size or paging.DEFAULT_PAGE_SIZE
    if not 1 <= size <= paging.MAX_PAGE_SIZE:
        message = f"page_size must be 1 to {paging.MAX_PAGE_SIZE}"
        raise InvalidArguments.one("page_size", message)
    instance = instances.get(session, principal, region, instance_id)
    rules = list(instance.acl_rules)
    start = (page - 1) * size
    return Rules(rules[start : start + size], len(rules), _port(instance))


def _requests(rules: Sequence[ACLRuleRequest]) -> list[acl.Rule]:
    parsed, errors = acl.parse_requests([(r.ip, r.description) for r in rules])
    if errors:
        raise InvalidArguments(errors)
    return parsed


def _current(instance: Instance) -> list[acl.Rule]:
    return [acl.Rule(r.ip, r.description) for r in instance.acl_rules]


def _locked_ready(
    session: Session, principal: Principal, region: str, instance_id: str
) -> Instance:
    instance = instances.get(session, principal, region, instance_id, lock=True)
    if instance.status != InstanceStatus.READY:
        raise TransientState("instance", instance.id, instance.status)
    return instance


def add(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    requests: Sequence[ACLRuleRequest],
) -> Rules:
    """Every rule after the addition (the real API answers them all)."""
    added = _requests(requests)
    instance = _locked_ready(session, principal, region, instance_id)
    change, errors = acl.add(_current(instance), added)
    if errors:
        raise InvalidArguments(errors)
    return _commit(session, instance, change)


def replace(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    requests: Sequence[ACLRuleRequest],
) -> Rules:
    wanted = _requests(requests)
    instance = _locked_ready(session, principal, region, instance_id)
    return _commit(session, instance, acl.replace(_current(instance), wanted))


def delete(
    session: Session, principal: Principal, region: str, instance_id: str, raw_ips: Sequence[str]
) -> Rules:
    """The rules actually deleted (a network without a rule is not an error)."""
    ips, errors = acl.parse_ips(raw_ips)
    if errors:
        raise InvalidArguments(errors)
    instance = _locked_ready(session, principal, region, instance_id)
    change, deleted = acl.delete(_current(instance), ips)
    done = _commit(session, instance, change)
    gone = [AclRule(ip=r.ip, description=r.description) for r in deleted]
    return Rules(gone, len(gone), done.port, done.operation_id)


def _commit(session: Session, instance: Instance, change: acl.Change) -> Rules:
    """Record ``change`` (and, when the admitted networks change, the job that applies it)."""
    op_id = None
    if change.admitted_changed:
        instances.start(session, instance, InstanceStatus.CONFIGURING)
    _store(session, instance, change.rules)
    if change.admitted_changed:
        op_id = operations.record(session, OPERATION, "instance", instance.id).id
    session.commit()
    rules = list(instance.acl_rules)
    return Rules(rules, len(rules), _port(instance), op_id)


def _store(session: Session, instance: Instance, wanted: list[acl.Rule]) -> None:
    """Rows in the wanted order (their ids are the order): kept rows stay in place and new ones
    go after, unless the order changes; then every row is written again (the old ones deleted
    first: an instance has one row per network)."""
    wanted_ips = [w.ip for w in wanted]
    rows = {r.ip: r for r in instance.acl_rules}
    kept = [ip for ip in rows if ip in set(wanted_ips)]  # in their current order
    if wanted_ips != kept + [ip for ip in wanted_ips if ip not in rows]:
        instance.acl_rules.clear()
        session.flush()
        rows = {}
    for ip in [ip for ip in rows if ip not in wanted_ips]:
        instance.acl_rules.remove(rows.pop(ip))
    session.flush()
    for rule in wanted:
        row = rows.get(rule.ip)
        if row is None:
            instance.acl_rules.append(AclRule(ip=rule.ip, description=rule.description))
        else:
            row.description = rule.description
    session.flush()
