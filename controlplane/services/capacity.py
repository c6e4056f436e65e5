"""Admission: host capacity (stock) and per-organization quotas, decided and reserved at once.

Usage is what instance rows commit to (node memory limits, volume sizes), counted the moment an
instance or a replica is admitted, not when a worker creates its containers. ``lock`` is the
first write of an admitting transaction: a conditional UPDATE of one row, which is the write
lock on SQLite and a row lock on PostgreSQL. Concurrent admissions therefore decide one after
the other, each seeing the rows the previous one committed, and the new row is reserved by the
same commit that releases the lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from controlplane.catalog.lookup import find_node_type
from controlplane.catalog.model import Catalog, NodeType
from controlplane.db.models import AdmissionLock, Instance, Organization, ReadReplica
from controlplane.domain.errors import OutOfStock, QuotasExceeded
from controlplane.settings import get_settings

LOW_STOCK_SHARE = 0.8
LOCK_ROW = "capacity"


@dataclass(frozen=True)
class Usage:
    instances: int = 0
    memory: int = 0  # bytes of node memory limits
    volume: int = 0  # bytes of volumes

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.instances + other.instances,
            self.memory + other.memory,
            self.volume + other.volume,
        )


@dataclass(frozen=True)
class Quota:
    instances: int
    memory: int
    volume: int


def host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def schedulable_memory(host_memory: int) -> int:
    """Memory limits are ceilings, not reservations: idle engines use far less
    (DBAAS_MEMORY_OVERCOMMIT, default 2)."""
    return int(host_memory * get_settings().memory_overcommit)


def node_memory(node_type: NodeType, host_memory: int) -> int:
    """A node's memory limit as applied: the node type's, capped to the host."""
    return min(node_type.memory, host_memory)


def demand(
    node_type: NodeType, volume_size: int, nodes: int, host_memory: int, instances: int
) -> Usage:
    """What ``nodes`` nodes of this type and volume hold (pure)."""
    return Usage(instances, nodes * node_memory(node_type, host_memory), nodes * volume_size)


def stock_status(node_type: NodeType, committed_memory: int, host_memory: int) -> str:
    if node_type.disabled:
        return "out_of_stock"
    capacity = schedulable_memory(host_memory)
    wanted = committed_memory + node_memory(node_type, host_memory)
    if wanted > capacity:
        return "out_of_stock"
    if wanted > capacity * LOW_STOCK_SHARE:
        return "low_stock"
    return "available"


def quota_of(organization: Organization, host_memory: int) -> Quota:
    """The organization's quotas; unset ones are the settings' defaults."""
    s = get_settings()
    default_memory = s.quota_memory_bytes or schedulable_memory(host_memory) // 2

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    return Quota(
        instances=pick(organization.quota_instances, s.quota_instances),
        memory=pick(organization.quota_memory_bytes, default_memory),
        volume=pick(organization.quota_volume_bytes, s.quota_volume_bytes),
    )


def exceeded(quota: Quota, used: Usage, wanted: Usage) -> QuotasExceeded | None:
    """The first quota that ``wanted`` on top of ``used`` would exceed (pure)."""
    for resource, limit, current, more in (
        ("instances", quota.instances, used.instances, wanted.instances),
        ("memory_bytes", quota.memory, used.memory, wanted.memory),
        ("volume_bytes", quota.volume, used.volume, wanted.volume),
    ):
        if more and current + more > limit:
            return QuotasExceeded(resource, current, limit)
    return None


def lock(session: Session) -> None:
    """Take the admission lock until this transaction ends (make it its first write)."""
    result = session.execute(
        update(AdmissionLock)
        .where(AdmissionLock.name == LOCK_ROW)
        .values(counter=AdmissionLock.counter + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a store made without migrations
        session.add(AdmissionLock(name=LOCK_ROW, counter=1))
        session.flush()


def usage(
    session: Session, catalog: Catalog, host_memory: int, organization_id: str | None = None
) -> Usage:
    """Every instance row counts (deleting ones too, until their resources are gone): its
    main node, its HA standby and each read replica, each with its memory and volume."""
    replicas = (
        select(ReadReplica.instance_id, func.count().label("n"))
        .group_by(ReadReplica.instance_id)
        .subquery()
    )
    query = select(
        Instance.node_type, Instance.is_ha_cluster, Instance.volume_size, replicas.c.n
    ).outerjoin(replicas, replicas.c.instance_id == Instance.id)
    if organization_id is not None:
        query = query.where(Instance.organization_id == organization_id)
    total = Usage()
    for name, is_ha, volume_size, replica_count in session.execute(query):
        node_type = find_node_type(catalog, name)
        if node_type is not None:
            nodes = (2 if is_ha else 1) + (replica_count or 0)
            total += demand(node_type, volume_size, nodes, host_memory, instances=1)
    return total


def admit(
    session: Session,
    catalog: Catalog,
    organization_id: str,
    node_type: NodeType,
    wanted: Usage,
) -> None:
    """Refuse (out of stock, or over a quota) or let the caller add its rows and commit;
    ``lock`` must have been taken in this transaction."""
    host_memory = host_memory_bytes()
    host_used = usage(session, catalog, host_memory)
    if node_type.disabled or (host_used.memory + wanted.memory > schedulable_memory(host_memory)):
        raise OutOfStock(node_type.name)
    organization = session.get(Organization, organization_id)
    assert organization is not None
    quota = quota_of(organization, host_memory)
    refusal = exceeded(quota, usage(session, catalog, host_memory, organization_id), wanted)
    if refusal is not None:
        raise refusal
