"""Instance use cases: validate, lock, check the transition, record, then enqueue after commit."""

from __future__ import annotations

import ipaddress
import secrets as pysecrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, joinedload

from agents.registry import agent_for
from controlplane import certificates, secrets
from controlplane.api.schemas.instances import CreateInstanceRequest, UpdateInstanceRequest
from controlplane.catalog import (
    find_engine_version,
    find_node_type,
    load_catalog,
    validate_settings,
    validate_volume,
)
from controlplane.catalog.model import NodeType
from controlplane.catalog.settings_rules import connection_capacity
from controlplane.catalog.volumes import effective_volume_size
from controlplane.db.models import AclRule, Instance, InstanceTally, Maintenance
from controlplane.db.precompiled import Precompiled
from controlplane.db.session import Reader, dialect_name
from controlplane.domain import acl, maintenance, rules
from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.errors import InvalidArguments, NotFound, TransientState
from controlplane.domain.states import (
    InstanceStatus,
    instance_is_transient,
)
from controlplane.services import capacity, operations, paging, shown, transitions
from controlplane.services.tenancy import Principal
from controlplane.settings import get_settings

LIST_ORDERS = {
    "created_at_asc",
    "created_at_desc",
    "name_asc",
    "name_desc",
    "region",
    "status_asc",
    "status_desc",
    "status",
}


@dataclass(frozen=True)
class Page:
    items: list[shown.Shown]
    total_count: int


def _err(argument: str, message: str, reason: str = Reason.CONSTRAINT) -> ArgumentError:
    return ArgumentError(argument, reason, message)


def _creation_errors(req: CreateInstanceRequest) -> list[ArgumentError]:
    """Everything about a create request that can be wrong, checked before touching anything."""
    catalog = load_catalog()
    errors: list[ArgumentError] = []
    version = find_engine_version(catalog, req.engine)
    if version is None or version.disabled:
        names = ", ".join(v.name for e in catalog.engines for v in e.versions if not v.disabled)
        errors.append(_err("engine", f"unknown engine {req.engine!r}; available: {names}"))
    node_type = find_node_type(catalog, req.node_type)
    if node_type is None or node_type.disabled:
        errors.append(_err("node_type", f"unknown node type {req.node_type!r}"))
    errors += rules.name_errors(req.name) if req.name else []
    errors += rules.tags_errors(req.tags)
    if req.user_name or req.password:
        family = version.family.value if version else "postgresql"
        errors += rules.user_name_errors(req.user_name, family)
        errors += rules.password_errors(req.password)
    if node_type is not None:
        errors += validate_volume(node_type, req.volume_type, req.volume_size)
    if version is not None:
        errors += validate_settings(
            version, [(s.name, s.value) for s in req.init_settings], init=True
        )
    if (
        wants_ha(req)
        and version is not None
        and version.family.value not in ("postgresql", "mysql")
    ):
        errors.append(
            _err("is_ha_cluster", f"high availability is not available for {version.name} yet")
        )
    if req.encryption is not None and req.encryption.enabled:
        errors.append(
            _err("encryption.enabled", "encryption at rest is not available on this host")
        )
    for i, spec in enumerate(req.init_endpoints or []):
        if spec.private_network is not None:
            errors.append(
                _err(
                    f"init_endpoints.{i}.private_network",
                    "private networks are not available on this host; use load_balancer",
                )
            )
    return errors


def wants_ha(req: CreateInstanceRequest) -> bool:
    return req.is_ha_cluster or req.high_availability_mode in ("single_zone", "multiple_zone")


def create(
    session: Session, principal: Principal, region: str, req: CreateInstanceRequest
) -> tuple[Instance, str]:
    project_id = req.project_id or req.organization_id or principal.default_project_id
    if project_id is None:
        raise InvalidArguments.one("project_id", "project_id is required", Reason.REQUIRED)
    principal.require_project(session, project_id)
    errors = _creation_errors(req)
    if errors:
        raise InvalidArguments(errors)
    catalog = load_catalog()
    version = find_engine_version(catalog, req.engine)
    node_type = find_node_type(catalog, req.node_type)
    assert version is not None and node_type is not None
    volume_size = effective_volume_size(node_type, req.volume_type, req.volume_size)
    capacity.lock(session)  # from here to the commit, no other admission decides
    wanted = capacity.demand(
        node_type,
        volume_size,
        nodes=2 if wants_ha(req) else 1,
        host_memory=capacity.host_memory_bytes(),
        instances=1,
    )
    capacity.admit(session, catalog, principal.organization_id, node_type, wanted)

    instance = Instance(
        organization_id=principal.organization_id,
        project_id=project_id,
        region=region,
        name=req.name or f"ins-{pysecrets.token_hex(4)}",
        engine=version.name,
        node_type=node_type.name,
        status=InstanceStatus.PROVISIONING.value,
        is_ha_cluster=wants_ha(req),
        high_availability_mode="single_zone" if wants_ha(req) else "disabled",
        sync_mode="degraded" if wants_ha(req) else "none",
        tags=list(req.tags),
        settings=[],
        init_settings=[{"name": s.name, "value": s.value} for s in req.init_settings],
        volume_type=req.volume_type,
        volume_size=volume_size,
        backup_schedule_disabled=req.disable_backup,
        backup_same_region=req.backup_same_region,
        encryption_enabled=False,
        admin_user_name=req.user_name or None,
        superuser_secret=secrets.encrypt(secrets.new_password()),
        replication_secret=secrets.encrypt(secrets.new_password()),
        acl_rules=[AclRule(ip=acl.DEFAULT_IP, description=acl.DEFAULT_DESCRIPTION)],
    )
    session.add(instance)
    session.flush()
    issue_certificate(instance)
    params = {}
    if req.user_name:
        verifier = agent_for(version.family.value).password_verifier(req.user_name, req.password)
        params["admin_verifier"] = secrets.encrypt(verifier)
    op = operations.record(session, "provision_instance", "instance", instance.id, params)
    session.commit()
    return instance, op.id


def get(
    session: Session, principal: Principal, region: str, instance_id: str, lock: bool = False
) -> Instance:
    query = select(Instance).where(Instance.id == instance_id, Instance.region == region)
    # one round trip for what converting it reads; a lock takes the instance's row only
    # (PostgreSQL refuses FOR UPDATE on the outer-joined side: of=Instance names the table)
    query = query.options(*WHOLE_INSTANCE)
    if lock:
        query = query.with_for_update(of=Instance)
    instance = session.execute(query).unique().scalar_one_or_none()
    if instance is None or instance.organization_id != principal.organization_id:
        raise NotFound("instance", instance_id)
    return instance


def get_shown(reader: Reader, principal: Principal, region: str, instance_id: str) -> shown.Shown:
    """What GET shows of one instance (services/shown.py), without loading its ORM row."""
    found = shown.one(reader, instance_id, region)
    if found is None or found.instance.organization_id != principal.organization_id:
        raise NotFound("instance", instance_id)
    return found


def list_instances(
    reader: Reader,
    principal: Principal,
    region: str,
    *,
    name: str | None,
    tags: list[str],
    project_id: str | None,
    organization_id: str | None,
    has_maintenances: bool | None,
    order_by: str,
    page: int,
    page_size: int | None,
) -> Page:
    size = paging.page_size(order_by, LIST_ORDERS, page, page_size)
    if organization_id and organization_id != principal.organization_id:
        return Page([], 0)
    offset = (page - 1) * size
    if not (name or tags or has_maintenances is not None):
        # The common pages, all or one project's: the total from the tallies kept by triggers
        # (a few rows, where count(*) read every matching one), the page one precompiled
        # statement (no per-page statement building: a quarter of a page's CPU).
        scope = {"organization_id": principal.organization_id, "region": region}
        if project_id:
            scope["project_id"] = project_id
        tallied = _TALLIED[bool(project_id)].rows(reader, **scope)[0][0]
        statement = _plain_page(order_by, bool(project_id))
        rows = statement.rows(reader, **scope, offset=offset, limit=size)
        return Page(shown.page(reader, rows), int(tallied))
    where: list[Any] = [
        Instance.organization_id == principal.organization_id,
        Instance.region == region,
    ]
    if project_id:
        where.append(Instance.project_id == project_id)
    if name:
        where.append(func.lower(Instance.name).contains(name.lower(), autoescape=True))
    if tags:
        where.append(_has_tags(reader, tags))
    if has_maintenances is not None:
        open_ones = exists().where(
            Maintenance.instance_id == Instance.id,
            Maintenance.status.in_([s.value for s in maintenance.OPEN]),
        )
        where.append(open_ones if has_maintenances else ~open_ones)
    # count(*), not count(id): the listing index alone answers it, no id read and tested
    total = reader.scalar(select(func.count()).select_from(Instance).where(*where)) or 0
    query = select(*shown.INSTANCE_COLUMNS).where(*where).order_by(*_order(order_by))
    selected = reader.execute(query.offset(offset).limit(size))
    return Page(shown.page(reader, selected), int(total))


def _in_scope(table: Any, by_project: bool) -> list[Any]:
    """The organization's rows in the region (and project), as bound parameters."""
    where = [
        table.organization_id == bindparam("organization_id"),
        table.region == bindparam("region"),
    ]
    return [*where, table.project_id == bindparam("project_id")] if by_project else where


# How many instances: the sum of the instance_tallies rows in scope (by_project: one row).
_TALLIED = {
    by_project: Precompiled(
        select(func.coalesce(func.sum(InstanceTally.instances), 0)).where(
            *_in_scope(InstanceTally, by_project)
        )
    )
    for by_project in (False, True)
}


@cache
def _plain_page(order_by: str, by_project: bool) -> Precompiled:
    """A page of the organization's instances in the region (and project), in ``order_by``."""
    query = select(*shown.INSTANCE_COLUMNS).where(*_in_scope(Instance, by_project))
    query = query.order_by(*_order(order_by))
    offset, limit = bindparam("offset", type_=Integer), bindparam("limit", type_=Integer)
    return Precompiled(query.offset(offset).limit(limit))


# What converting one instance reads, joined into its one query (a page: services/shown.py).
SHOWN_RELATIONS = (Instance.endpoints, Instance.read_replicas, Instance.maintenances)
WHOLE_INSTANCE = tuple(joinedload(r) for r in SHOWN_RELATIONS)


def _order(order_by: str) -> list[Any]:
    """SQL order (an index walk for the default), created_at then id as tie-breakers."""
    field = order_by.removesuffix("_asc").removesuffix("_desc")
    first: dict[str, Any] = {
        "name": func.lower(Instance.name),
        "region": Instance.region,
        "status": Instance.status,
    }
    keys: list[Any] = [first[field]] if field in first else []
    keys += [Instance.created_at, Instance.id]
    return [k.desc() for k in keys] if order_by.endswith("_desc") else keys


def _has_tags(reader: Reader, tags: list[str]) -> Any:
    """Every one of ``tags`` is in the instance's JSON list (PostgreSQL: containment;
    SQLite: one json_each lookup per tag)."""
    if dialect_name(reader) == "postgresql":
        return cast(Instance.tags, JSONB).contains(sorted(set(tags)))
    conditions = []
    for tag in sorted(set(tags)):
        each = func.json_each(Instance.tags).table_valued("value")
        conditions.append(exists(select(literal(1)).select_from(each).where(each.c.value == tag)))
    return and_(*conditions)


def update(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    req: UpdateInstanceRequest,
) -> Instance:
    instance = get(session, principal, region, instance_id, lock=True)
    errors: list[ArgumentError] = []
    if req.name is not None:
        errors += rules.name_errors(req.name)
    if req.tags is not None:
        errors += rules.tags_errors(req.tags)
    if req.backup_schedule_frequency is not None and req.backup_schedule_frequency < 1:
        errors.append(_err("backup_schedule_frequency", "frequency is at least 1 hour"))
    if req.backup_schedule_retention is not None and not 1 <= req.backup_schedule_retention <= 365:
        errors.append(_err("backup_schedule_retention", "retention is 1 to 365 days"))
    if errors:
        raise InvalidArguments(errors)
    guard_not_transient(instance)
    if req.name is not None:
        instance.name = req.name
    if req.tags is not None:
        instance.tags = list(req.tags)
    if req.backup_schedule_frequency is not None:
        instance.backup_schedule_frequency = req.backup_schedule_frequency
    if req.backup_schedule_retention is not None:
        instance.backup_schedule_retention = req.backup_schedule_retention
    if req.is_backup_schedule_disabled is not None:
        instance.backup_schedule_disabled = req.is_backup_schedule_disabled
    if req.backup_schedule_start_hour is not None:
        instance.backup_schedule_start_hour = req.backup_schedule_start_hour
    if req.logs_policy is not None:
        if req.logs_policy.max_age_retention is not None:
            instance.logs_max_age_retention = req.logs_policy.max_age_retention
        if req.logs_policy.total_disk_retention is not None:
            instance.logs_total_disk_retention = req.logs_policy.total_disk_retention
    if req.backup_same_region is not None:
        instance.backup_same_region = req.backup_same_region
    session.commit()
    return instance


def delete(
    session: Session, principal: Principal, region: str, instance_id: str
) -> tuple[Instance, str | None]:
    """Deletion wins over whatever runs: from any status, the job in flight stops (it sees
    ``deleting``) and the delete job removes everything once it has the instance's lock."""
    instance = get(session, principal, region, instance_id)
    if not transitions.move_instance(session, instance.id, InstanceStatus.DELETING, row=instance):
        session.rollback()
        return instance, None  # already deleting: the same result as the first request
    op = operations.record(session, "delete_instance", "instance", instance.id)
    session.commit()
    return instance, op.id


def start(
    session: Session,
    instance: Instance,
    target: InstanceStatus,
    sources: tuple[InstanceStatus, ...] = (InstanceStatus.READY,),
) -> None:
    """The guarded start of a job on a ready instance: exactly one of concurrent requests
    moves it, the others get ``transient_state``."""
    if not transitions.move_instance(session, instance.id, target, only_from=sources, row=instance):
        session.rollback()
        raise TransientState("instance", instance.id, instance.status)


def guard_not_transient(instance: Instance) -> None:
    if instance_is_transient(instance.status):
        raise TransientState("instance", instance.id, instance.status)


def issue_certificate(instance: Instance, more_addresses: tuple[str, ...] = ()) -> None:
    """A new key and self-signed certificate for every address users reach the instance on:
    the advertised one, its endpoints' (swarm mode: their hosts') and ``more_addresses``."""
    addresses = {get_settings().advertise_address, *more_addresses}
    addresses |= {e.ip for e in instance.endpoints if _is_ip(e.ip)}
    issued = certificates.issue(instance.id, instance.region, sorted(addresses))
    instance.tls_cert = issued.cert_pem
    instance.tls_key_secret = secrets.encrypt(issued.key_pem)
    instance.tls_expires_at = issued.not_after


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def certificate(session: Session, principal: Principal, region: str, instance_id: str) -> str:
    instance = get(session, principal, region, instance_id)
    if not instance.tls_cert:
        raise TransientState("instance", instance.id, instance.status)
    return instance.tls_cert


def renew_certificate(session: Session, principal: Principal, region: str, instance_id: str) -> str:
    instance = get(session, principal, region, instance_id, lock=True)
    guard_not_transient(instance)
    return start_certificate_renewal(session, instance)


def start_certificate_renewal(session: Session, instance: Instance) -> str:
    """New certificate now (GET certificate returns it at once), installed on every node by a
    job, without restarting the engine: the previous certificate stops verifying the server."""
    start(session, instance, InstanceStatus.CONFIGURING)
    issue_certificate(instance)
    op = operations.record(session, "install_tls", "instance", instance.id)
    session.commit()
    return op.id


def check_connections(instance: Instance, new: NodeType) -> None:
    """Refused, not adjusted: a node type that cannot hold the max_connections now set."""
    chosen = {s["name"]: s["value"] for s in instance.settings}
    value = chosen.get("max_connections")
    limit = connection_capacity(new)
    if value is not None and value.isdigit() and int(value) > limit:
        raise InvalidArguments.one(
            "node_type",
            f"max_connections is {value} and {new.name} holds at most {limit} connections: "
            f"lower max_connections first",
        )
