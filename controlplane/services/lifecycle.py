"""Restart and upgrade use cases: validate, record the desired state, start the job.

The rows say what the instance becomes (its node type, volume, HA) as soon as the request is
accepted, in the same transaction as the guarded status move and the operation; the job
(``workers/upgrade_jobs.py``) makes the containers match. A refused request changes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from controlplane.api.schemas.instances import UpgradeInstanceRequest
from controlplane.catalog import find_node_type, load_catalog, validate_volume
from controlplane.catalog.model import NodeType
from controlplane.catalog.settings_rules import rescale_settings
from controlplane.catalog.volumes import effective_volume_size
from controlplane.db.models import Instance
from controlplane.domain.errors import InvalidArguments, TransientState
from controlplane.domain.states import InstanceStatus
from controlplane.services import capacity, copies, instances, operations
from controlplane.services.tenancy import Principal

NOT_YET = {"enable_encryption": "encryption at rest is not available on this host"}


def restart(
    session: Session, principal: Principal, region: str, instance_id: str
) -> tuple[Instance, str]:
    instance = instances.get(session, principal, region, instance_id)
    instances.start(session, instance, InstanceStatus.RESTARTING)
    op = operations.record(session, "restart_instance", "instance", instance.id)
    session.commit()
    return instance, op.id


def upgrade(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    req: UpgradeInstanceRequest,
) -> tuple[Instance, str]:
    target = req.target
    if target in NOT_YET:
        raise InvalidArguments.one(target, NOT_YET[target])
    if req.upgradable_version_id is not None:  # a new instance (the legacy form)
        return copies.major_upgrade(
            session, principal, region, instance_id, req.upgradable_version_id, False
        )
    if req.major_upgrade_workflow is not None:
        workflow = req.major_upgrade_workflow
        return copies.major_upgrade(
            session, principal, region, instance_id, workflow.upgradable_version_id,
            workflow.with_endpoints,
        )  # fmt: skip
    instance = instances.get(session, principal, region, instance_id)
    catalog = load_catalog()
    node_type = find_node_type(catalog, instance.node_type)
    if node_type is None:
        raise InvalidArguments.one("node_type", f"{instance.node_type} left the catalog")
    sources: tuple[InstanceStatus, ...] = (InstanceStatus.READY,)
    if req.volume_size is not None:  # what brings a full disk back
        sources = (InstanceStatus.READY, InstanceStatus.DISK_FULL)
    if instance.status not in sources:  # early answer; the guarded move below decides
        raise TransientState("instance", instance.id, instance.status)
    capacity.lock(session)  # first write: admissions and this upgrade decide one at a time
    kind, params = _plan(session, instance, req, node_type)
    instances.start(session, instance, InstanceStatus.INITIALIZING, sources)
    _apply(instance, req, catalog, node_type)
    op = operations.record(session, kind, "instance", instance.id, params)
    session.commit()
    return instance, op.id


def _plan(
    session: Session, instance: Instance, req: UpgradeInstanceRequest, current: NodeType
) -> tuple[str, dict[str, object]]:
    """The job and its parameters; refuses what cannot be done, before anything changes."""
    catalog = load_catalog()
    nodes = _node_count(instance)
    host_memory = capacity.host_memory_bytes()
    if req.node_type is not None:
        new = find_node_type(catalog, req.node_type)
        if new is None or new.disabled:
            raise InvalidArguments.one("node_type", f"unknown node type {req.node_type!r}")
        if new.name == current.name:
            raise InvalidArguments.one("node_type", f"the instance is already {new.name}")
        if instance.volume_type == "lssd" and (_lssd_size(new) or 0) < instance.volume_size:
            raise InvalidArguments.one(
                "node_type",
                f"{new.name}'s local volume is smaller than this instance's: move to sbs_5k "
                f"first (volume_type), then change the node type",
            )
        instances.check_connections(instance, new)
        more = capacity.demand(new, 0, nodes, host_memory, 0)
        less = capacity.demand(current, 0, nodes, host_memory, 0)
        _admit(session, instance, new, capacity.Usage(0, more.memory - less.memory, 0))
        return "upgrade_node_type", {"from": current.name, "to": new.name}
    if req.enable_ha is not None or req.high_availability_mode is not None:
        _check_ha(instance, req)
        _admit(session, instance, current, capacity.demand(current, instance.volume_size, 1,
                                                           host_memory, 0))  # fmt: skip
        return "enable_ha", {}
    if req.volume_size is not None:
        if instance.volume_type == "lssd":
            raise InvalidArguments.one(
                "volume_size", "an lssd volume's size is the node type's; move to sbs_5k to grow"
            )
        if req.volume_size <= instance.volume_size:
            raise InvalidArguments.one(
                "volume_size", f"volumes only grow: the volume is {instance.volume_size} bytes"
            )
        _volume_errors(current, instance.volume_type, req.volume_size, "volume_size")
        growth = (req.volume_size - instance.volume_size) * nodes
        _admit(session, instance, current, capacity.Usage(0, 0, growth))
        return "grow_volume", {"from": instance.volume_size, "to": req.volume_size}
    assert req.volume_type is not None
    wanted = req.volume_type.value
    if wanted == instance.volume_type:
        raise InvalidArguments.one("volume_type", f"the volume is already {wanted}")
    size = _size_for(current, wanted, instance.volume_size)
    _volume_errors(current, wanted, size, "volume_type")
    _admit(session, instance, current, capacity.Usage(0, 0, (size - instance.volume_size) * nodes))
    return "change_volume_type", {"from_type": instance.volume_type, "to_type": wanted}


def _apply(
    instance: Instance, req: UpgradeInstanceRequest, catalog: object, current: NodeType
) -> None:
    """The desired state, recorded with the operation."""
    if req.node_type is not None:
        new = find_node_type(load_catalog(), req.node_type)
        assert new is not None
        instance.settings = rescale_settings(instance.engine, instance.settings, current, new)
        instance.node_type = new.name
        if instance.volume_type == "lssd":  # the local volume comes with the node type
            instance.volume_size = _lssd_size(new) or instance.volume_size
    elif req.enable_ha is not None or req.high_availability_mode is not None:
        instance.is_ha_cluster = True
        instance.high_availability_mode = "single_zone"
        instance.sync_mode = "degraded"
    elif req.volume_size is not None:
        instance.volume_size = req.volume_size
    elif req.volume_type is not None:
        instance.volume_size = _size_for(current, req.volume_type.value, instance.volume_size)
        instance.volume_type = req.volume_type.value


def _node_count(instance: Instance) -> int:
    return (2 if instance.is_ha_cluster else 1) + len(instance.read_replicas)


def _admit(session: Session, instance: Instance, node_type: NodeType, more: capacity.Usage) -> None:
    if more.memory <= 0 and more.volume <= 0:
        return
    wanted = capacity.Usage(0, max(more.memory, 0), max(more.volume, 0))
    capacity.admit(session, load_catalog(), instance.organization_id, node_type, wanted)


def _check_ha(instance: Instance, req: UpgradeInstanceRequest) -> None:
    if req.enable_ha is False:
        raise InvalidArguments.one("enable_ha", "high availability can only be enabled")
    mode = req.high_availability_mode
    if mode is not None and mode.value != "single_zone":
        raise InvalidArguments.one(
            "high_availability_mode", "only single_zone is available on this host"
        )
    if instance.is_ha_cluster:
        raise InvalidArguments.one("enable_ha", "the instance is already highly available")


def _size_for(node_type: NodeType, volume_type: str, current_size: int) -> int:
    """A block volume keeps the current size (at least its minimum, in whole chunks); an lssd
    volume's is the node type's."""
    spec = node_type.volume_type(volume_type)
    if spec is None or spec.is_local:
        return effective_volume_size(node_type, volume_type, current_size) if spec else 0
    size = max(current_size, spec.min_size)
    return -(-size // spec.chunk_size) * spec.chunk_size


def _lssd_size(node_type: NodeType) -> int | None:
    spec = node_type.volume_type("lssd")
    return spec.min_size if spec is not None else None


def _volume_errors(node_type: NodeType, volume_type: str, size: int, argument: str) -> None:
    errors = validate_volume(node_type, volume_type, size)
    if errors:
        raise InvalidArguments.one(argument, "; ".join(e.help_message for e in errors))
