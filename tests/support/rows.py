"""Metadata rows made directly, for API tests that need an instance but no containers."""

from __future__ import annotations

from controlplane import secrets
from controlplane.db.models import Instance, ReadReplica
from controlplane.db.session import session_scope
from tests.support.tenants import Tenant

CREATED: list[str] = []  # removed by remove_created(): they would count as used capacity


def instance_row(tenant: Tenant, name: str = "row-only", replicas: int = 0) -> str:
    """A ``ready`` PostgreSQL instance row (with ``replicas`` ready read-replica rows).

    It has no node rows: the periodic reconcile heals missing node containers, and these
    instances never had any."""
    with session_scope() as session:
        row = Instance(
            organization_id=tenant.organization_id,
            project_id=tenant.project_id,
            region="fr-par",
            name=name,
            engine="PostgreSQL-15",
            node_type="db-dev-s",
            status="ready",
            tags=[],
            settings=[],
            init_settings=[],
            volume_type="lssd",
            volume_size=5_000_000_000,
            superuser_secret=secrets.encrypt("x"),
            replication_secret=secrets.encrypt("y"),
        )
        for i in range(1, replicas + 1):
            row.read_replicas.append(
                ReadReplica(region="fr-par", status="ready", node_name=f"r{i}")
            )
        session.add(row)
        session.flush()
        CREATED.append(row.id)
        return row.id


def remove_created() -> None:
    """The row-only instances made so far go (with their operations, none of which runs)."""
    from sqlalchemy import delete

    from controlplane.db.models import Operation

    with session_scope() as session:
        for instance_id in CREATED:
            row = session.get(Instance, instance_id)
            if row is not None:
                session.delete(row)
        session.execute(delete(Operation).where(Operation.resource_id.in_(CREATED)))
    CREATED.clear()
