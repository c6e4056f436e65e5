"""New instances made from an existing one: a clone, a major version upgrade, a promoted
read replica. Each is a new, independent instance (its own id, endpoint and certificate) with the
source's specifications and a consistent copy of its data, made by a job.

The copied data keeps the engine's accounts, the service's own included: the new instance takes
the source's internal passwords (still encrypted), so the control plane can act on it at once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from controlplane.api.schemas.instances import CloneInstanceRequest
from controlplane.catalog import (
    find_engine_version,
    find_node_type,
    load_catalog,
    upgradable_versions,
)
from controlplane.catalog.model import NodeType
from controlplane.catalog.settings_rules import rescale_settings
from controlplane.db.models import Instance
from controlplane.domain import rules
from controlplane.domain.errors import InvalidArguments, TransientState
from controlplane.domain.states import InstanceStatus
from controlplane.services import acls, capacity, instances, operations
from controlplane.services.tenancy import Principal


def instance_like(source: Instance, name: str, **overrides: object) -> Instance:
    """The new instance's row: the source's specifications, ``overrides`` on top."""
    row = Instance(
        organization_id=source.organization_id,
        project_id=source.project_id,
        region=source.region,
        name=name,
        engine=source.engine,
        node_type=source.node_type,
        status=InstanceStatus.PROVISIONING.value,
        is_ha_cluster=source.is_ha_cluster,
        high_availability_mode=source.high_availability_mode,
        sync_mode="degraded" if source.is_ha_cluster else "none",
        tags=list(source.tags),
        settings=list(source.settings),
        init_settings=list(source.init_settings),
        volume_type=source.volume_type,
        volume_size=source.volume_size,
        backup_schedule_frequency=source.backup_schedule_frequency,
        backup_schedule_retention=source.backup_schedule_retention,
        backup_schedule_disabled=source.backup_schedule_disabled,
        backup_schedule_start_hour=source.backup_schedule_start_hour,
        logs_max_age_retention=source.logs_max_age_retention,
        logs_total_disk_retention=source.logs_total_disk_retention,
        backup_same_region=source.backup_same_region,
        admin_user_name=source.admin_user_name,
        superuser_secret=source.superuser_secret,
        replication_secret=source.replication_secret,
        acl_rules=acls.copied_rules(source),
    )
    for key, value in overrides.items():
        setattr(row, key, value)
    return row


def resized(source: Instance, requested: str | None) -> tuple[NodeType, int, list[dict[str, str]]]:
    """The new instance's node type (``requested`` or the source's), volume size and settings
    (rescaled to the node type's memory): a copy never gets less room than the source's data."""
    catalog = load_catalog()
    node_type = find_node_type(catalog, requested or source.node_type)
    if node_type is None or node_type.disabled:
        raise InvalidArguments.one("node_type", f"unknown node type {requested!r}")
    size = source.volume_size
    if source.volume_type == "lssd":
        spec = node_type.volume_type("lssd")
        if spec is None or spec.min_size < source.volume_size:
            raise InvalidArguments.one(
                "node_type",
                f"{node_type.name}'s local volume is smaller than the source's data volume",
            )
        size = spec.min_size
    settings = list(source.settings)
    current = find_node_type(catalog, source.node_type)
    if current is not None and current.name != node_type.name:
        instances.check_connections(source, node_type)
        settings = rescale_settings(source.engine, settings, current, node_type)
    return node_type, size, settings


def admit(session: Session, row: Instance, node_type: NodeType) -> None:
    nodes = 2 if row.is_ha_cluster else 1
    wanted = capacity.demand(
        node_type, row.volume_size, nodes, capacity.host_memory_bytes(), instances=1
    )
    capacity.admit(session, load_catalog(), row.organization_id, node_type, wanted)


def record(session: Session, row: Instance, kind: str, params: dict[str, object]) -> str:
    session.add(row)
    session.flush()
    instances.issue_certificate(row)
    op = operations.record(session, kind, "instance", row.id, params)
    session.commit()
    return op.id


def clone(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    req: CloneInstanceRequest,
) -> tuple[Instance, str]:
    """A new instance holding the source's data at one point in time, optionally on a bigger
    node type; the source keeps serving (a base backup / a single-transaction dump)."""
    source = instances.get(session, principal, region, instance_id)
    errors = rules.name_errors(req.name)
    if errors:
        raise InvalidArguments(errors)
    node_type, size, settings = resized(source, req.node_type)
    if source.status != InstanceStatus.READY:
        raise TransientState("instance", source.id, source.status)
    capacity.lock(session)
    row = instance_like(
        source, req.name, node_type=node_type.name, volume_size=size, settings=settings
    )
    admit(session, row, node_type)
    return row, record(session, row, "clone_instance", {"source_id": source.id})


def major_upgrade(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    version_id: str,
    with_endpoints: bool,
) -> tuple[Instance, str]:
    """A new instance on the newer major version with the source's specifications and data;
    the source stays ``ready`` (and serving) until the client deletes it. With
    ``with_endpoints``, the source's load-balancer endpoint moves to the new one once it is
    ready."""
    source = instances.get(session, principal, region, instance_id)
    catalog = load_catalog()
    current = find_engine_version(catalog, source.engine)
    newer = upgradable_versions(catalog, current) if current is not None else ()
    target = next((v for v in newer if v.id == version_id), None)
    if target is None:
        raise InvalidArguments.one(
            "upgradable_version_id",
            f"{version_id!r} is not one of this instance's upgradable versions",
        )
    node_type = find_node_type(catalog, source.node_type)
    assert node_type is not None
    if source.status != InstanceStatus.READY:
        raise TransientState("instance", source.id, source.status)
    capacity.lock(session)
    settings = [s for s in source.settings if target.setting(s["name"]) is not None]
    row = instance_like(source, source.name, engine=target.name, settings=settings)
    admit(session, row, node_type)
    params = {"source_id": source.id, "with_endpoints": with_endpoints, "to": target.name}
    return row, record(session, row, "major_upgrade", params)
