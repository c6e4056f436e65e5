"""Endpoint jobs: a created load-balancer endpoint is started by the instance's converge; a
deleted one has its proxy removed and its port freed; a migrated one moves with the same steps
as a major upgrade ``with_endpoints`` (``copy_jobs.move_endpoint``). Each is idempotent: what
is already gone is skipped.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from controlplane.db.models import PortAllocation
from controlplane.domain.states import InstanceStatus
from workers import naming, proxies
from workers.copy_jobs import move_endpoint
from workers.instance_jobs import converge, load_instance, mark_error, set_status
from workers.runner import OperationContext

# The API recorded the endpoint and its port; the converge starts its proxy, checks a query
# through it, and the instance is ready.
create = converge


def delete(ctx: OperationContext) -> None:
    instance_id = ctx.resource_id
    node = ctx.params.get("node")
    if ctx.params.get("kind") == "direct_access" and isinstance(node, str):
        owner, purpose = f"{instance_id}:{node}", "direct_access"
        container = naming.endpoint_container(instance_id, node)
    else:
        owner, purpose = instance_id, "load_balancer"
        container = naming.lb_container(instance_id)
    proxies.remove(container)  # its published port is free once the container is gone
    with ctx.sessions() as session:
        session.execute(
            sql_delete(PortAllocation).where(
                PortAllocation.owner_id == owner, PortAllocation.purpose == purpose
            )
        )
        _settle(session, instance_id)
        session.commit()


def migrate(ctx: OperationContext) -> None:
    source_id = str(ctx.params["source_id"])
    move_endpoint(ctx.sessions, source_id, ctx.resource_id)
    with ctx.sessions() as session:  # a source whose converge did not settle it
        _settle(session, source_id)
        _settle(session, ctx.resource_id)
        session.commit()


def _settle(session: Session, instance_id: str) -> None:
    instance = load_instance(session, instance_id)
    if instance is not None and instance.status == InstanceStatus.CONFIGURING:
        set_status(session, instance, InstanceStatus.READY)


def migrate_failed(ctx: OperationContext, message: str) -> None:
    """Both instances show the failure: the endpoint may be on either side."""
    mark_error(ctx, message)
    mark_error(replace(ctx, resource_id=str(ctx.params["source_id"])), message)
