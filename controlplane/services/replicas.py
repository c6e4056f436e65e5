"""Read-replica use cases: guard, record, enqueue (the jobs are in workers/replica_jobs.py).

A replica is a node of its instance (``Node.role == "replica"``, streaming asynchronously from
the primary) plus a ``ReadReplica`` row with its own status and endpoints. Its jobs lock the
parent instance, so they never overlap a failover or another job on that instance.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.api.schemas.endpoints import ReadReplicaEndpointSpec
from controlplane.catalog import find_node_type, load_catalog
from controlplane.db.models import Instance, Node, ReadReplica
from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.errors import (
    InvalidArguments,
    NotFound,
    QuotasExceeded,
    TransientState,
)
from controlplane.domain.states import REPLICA_TRANSIENT, InstanceStatus, ReadReplicaStatus
from controlplane.services import acls, capacity, instances, operations, transitions
from controlplane.services.tenancy import Principal
from controlplane.settings import get_settings


def _endpoint_errors(specs: list[ReadReplicaEndpointSpec], field: str) -> list[ArgumentError]:
    errors = []
    for i, spec in enumerate(specs):
        if spec.private_network is not None:
            errors.append(
                ArgumentError(
                    f"{field}.{i}.private_network",
                    Reason.CONSTRAINT,
                    "private networks are not available on this host; use direct_access",
                )
            )
    if sum(spec.direct_access is not None for spec in specs) > 1:
        errors.append(
            ArgumentError(field, Reason.CONSTRAINT, "a read replica has at most one direct_access")
        )
    return errors


def _next_node_name(instance: Instance) -> str:
    used = {n.name for n in instance.nodes}
    return next(f"r{i}" for i in range(1, 100) if f"r{i}" not in used)


def _scope(
    session: Session, principal: Principal, region: str, replica_id: str, lock: bool = False
) -> ReadReplica:
    query = select(ReadReplica).where(ReadReplica.id == replica_id, ReadReplica.region == region)
    if lock:
        query = query.with_for_update()
    replica = session.scalar(query)
    if replica is None or replica.instance.organization_id != principal.organization_id:
        raise NotFound("read_replica", replica_id)
    return replica


def get(session: Session, principal: Principal, region: str, replica_id: str) -> ReadReplica:
    return _scope(session, principal, region, replica_id)


def create(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    specs: list[ReadReplicaEndpointSpec],
    same_zone: bool,
) -> tuple[ReadReplica, str]:
    errors = _endpoint_errors(specs, "endpoint_spec")
    if errors:
        raise InvalidArguments(errors)
    capacity.lock(session)  # first: the checks below see every replica admitted before
    instance = instances.get(session, principal, region, instance_id, lock=True)
    if instance.status != InstanceStatus.READY:
        raise TransientState("instance", instance.id, instance.status)
    quota = get_settings().max_read_replicas
    if len(instance.read_replicas) >= quota:
        raise QuotasExceeded("read_replicas", len(instance.read_replicas), quota)
    _admit_one_node(session, instance)
    node = _next_node_name(instance)
    replica = ReadReplica(
        instance_id=instance.id,
        region=region,
        status=ReadReplicaStatus.PROVISIONING.value,
        same_zone=same_zone,
        node_name=node,
    )
    instance.read_replicas.append(replica)
    instance.nodes.append(Node(name=node, role="replica", needs_rebuild=True))
    session.flush()
    wants_direct = not specs or any(s.direct_access is not None for s in specs)
    op = operations.record(
        session,
        "provision_replica",
        "read_replica",
        replica.id,
        {"instance_id": instance.id, "direct_access": wants_direct},
    )
    session.commit()
    return replica, op.id


def _admit_instance(session: Session, source: Instance) -> None:
    """A promoted replica is one more instance; its node is already counted (the replica's)."""
    catalog = load_catalog()
    node_type = find_node_type(catalog, source.node_type)
    if node_type is None:
        raise TransientState("instance", source.id, source.status)
    capacity.admit(session, catalog, source.organization_id, node_type, capacity.Usage(1, 0, 0))


def _admit_one_node(session: Session, instance: Instance) -> None:
    catalog = load_catalog()
    node_type = find_node_type(catalog, instance.node_type)
    if node_type is None:
        raise TransientState("instance", instance.id, instance.status)
    wanted = capacity.demand(
        node_type, instance.volume_size, 1, capacity.host_memory_bytes(), instances=0
    )
    capacity.admit(session, catalog, instance.organization_id, node_type, wanted)


SETTLED = frozenset(s for s in ReadReplicaStatus if s not in REPLICA_TRANSIENT)


def _transition(session: Session, replica: ReadReplica, target: ReadReplicaStatus) -> None:
    """Guarded: one of concurrent requests moves the replica; the others are refused."""
    settled = None if target == ReadReplicaStatus.DELETING else SETTLED  # deletion wins
    if not transitions.move_replica(session, replica.id, target, only_from=settled, row=replica):
        session.rollback()
        raise TransientState("read_replica", replica.id, replica.status)


def _instance_ready(replica: ReadReplica) -> None:
    if replica.instance.status != InstanceStatus.READY:
        raise TransientState("instance", replica.instance_id, replica.instance.status)


def _start(
    session: Session,
    replica: ReadReplica,
    target: ReadReplicaStatus,
    kind: str,
    **params: object,
) -> str:
    """Move the replica to ``target`` and record its job (it locks the parent instance)."""
    _transition(session, replica, target)
    op = operations.record(
        session, kind, "read_replica", replica.id, {"instance_id": replica.instance_id, **params}
    )
    session.commit()
    return op.id


def delete(
    session: Session, principal: Principal, region: str, replica_id: str
) -> tuple[ReadReplica, str | None]:
    replica = _scope(session, principal, region, replica_id)
    if not transitions.move_replica(session, replica.id, ReadReplicaStatus.DELETING, row=replica):
        session.rollback()
        return replica, None  # already deleting: the same result as the first request
    op = operations.record(
        session, "delete_replica", "read_replica", replica.id, {"instance_id": replica.instance_id}
    )
    session.commit()
    return replica, op.id


def reset(
    session: Session, principal: Principal, region: str, replica_id: str
) -> tuple[ReadReplica, str]:
    replica = _scope(session, principal, region, replica_id, lock=True)
    _instance_ready(replica)
    return replica, _start(session, replica, ReadReplicaStatus.INITIALIZING, "reset_replica")


def create_endpoint(
    session: Session,
    principal: Principal,
    region: str,
    replica_id: str,
    specs: list[ReadReplicaEndpointSpec],
) -> tuple[ReadReplica, str]:
    replica = _scope(session, principal, region, replica_id, lock=True)
    errors = _endpoint_errors(specs, "endpoint_spec")
    if not specs:
        errors.append(ArgumentError("endpoint_spec", Reason.REQUIRED, "give one endpoint spec"))
    if errors:
        raise InvalidArguments(errors)
    if any(e.read_replica_id == replica.id for e in replica.instance.endpoints):
        raise InvalidArguments.one(
            "endpoint_spec", "this read replica already has a direct_access endpoint"
        )
    _instance_ready(replica)
    op_id = _start(
        session, replica, ReadReplicaStatus.INITIALIZING, "replica_endpoint", direct_access=True
    )
    return replica, op_id


def promote(
    session: Session, principal: Principal, region: str, replica_id: str
) -> tuple[Instance, str]:
    """The replica's data becomes a new standalone instance; the replica itself goes away.
    The replica is moved to ``promoting`` first: a concurrent promote is refused before it
    creates anything."""
    replica = _scope(session, principal, region, replica_id)
    capacity.lock(session)
    _transition(session, replica, ReadReplicaStatus.PROMOTING)
    _instance_ready(replica)
    source = replica.instance
    _admit_instance(session, source)
    promoted = Instance(
        organization_id=source.organization_id,
        project_id=source.project_id,
        region=source.region,
        name=f"promoted - {source.name}",
        engine=source.engine,
        node_type=source.node_type,
        status=InstanceStatus.INITIALIZING.value,
        is_ha_cluster=False,
        high_availability_mode="disabled",
        sync_mode="none",
        tags=list(source.tags),
        settings=list(source.settings),
        init_settings=list(source.init_settings),
        volume_type=source.volume_type,
        volume_size=source.volume_size,
        backup_schedule_disabled=source.backup_schedule_disabled,
        backup_same_region=source.backup_same_region,
        admin_user_name=source.admin_user_name,
        # The copied data keeps the engine accounts: same internal passwords.
        superuser_secret=source.superuser_secret,
        replication_secret=source.replication_secret,
        acl_rules=acls.copied_rules(source),  # its endpoint followed them already
    )
    session.add(promoted)
    session.flush()
    instances.issue_certificate(promoted)
    op = operations.record(
        session,
        "promote_replica",
        "read_replica",
        replica.id,
        {"instance_id": replica.instance_id, "new_instance_id": promoted.id},
    )
    session.commit()
    return promoted, op.id
