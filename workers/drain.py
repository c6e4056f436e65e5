"""``dbaas drain-host HOST``: empty a swarm host of our nodes and load balancers, with no
acknowledged commit lost (one ``leave_host`` job per instance, workers/host_jobs.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from controlplane.db.models import Instance, Node, Operation
from controlplane.db.session import session_factory, session_scope
from controlplane.domain.errors import TransientState
from controlplane.domain.states import InstanceStatus, OperationStatus
from controlplane.services import instances, operations
from controlplane.settings import get_settings
from workers import swarm_hosts


@dataclass
class DrainStarted:
    jobs: dict[str, str] = field(default_factory=dict)  # instance -> operation
    left: dict[str, str] = field(default_factory=dict)  # instance -> why it stays


def start(host: str) -> DrainStarted:
    """The host is drained in the swarm, then every instance with something there gets a job
    (a standalone main node, which would move with downtime, and a busy instance are left)."""
    manager = get_settings().swarm_manager
    if not manager:
        raise ValueError("single-host mode (DBAAS_SWARM_MANAGER unset): no host to drain")
    swarm_hosts.set_availability(manager, host, "drain")
    started = DrainStarted()
    with session_scope() as session:
        on_host = select(Node.instance_id).where(Node.host == host)
        rows = session.scalars(
            select(Instance).where(
                or_(Instance.id.in_(on_host), Instance.load_balancer_host == host)
            )
        ).all()
        for instance in sorted(rows, key=lambda r: r.id):
            main = next((n for n in instance.nodes if n.role == "primary"), None)
            if main is not None and main.host == host and not instance.is_ha_cluster:
                started.left[instance.id] = "a standalone main node moves only with downtime"
                continue
            try:
                instances.start(session, instance, InstanceStatus.CONFIGURING)
            except TransientState:
                started.left[instance.id] = f"busy ({instance.status}): drain again later"
                continue
            op = operations.record(session, "leave_host", "instance", instance.id, {"host": host})
            session.commit()
            started.jobs[instance.id] = op.id
    operations.publish_after_commit(session_factory(), list(started.jobs.values()))
    return started


def wait(started: DrainStarted, timeout: float = 1800) -> dict[str, tuple[str, float]]:
    """Operation status and seconds taken, per instance, once every job ended."""
    began = time.monotonic()
    ended: dict[str, tuple[str, float]] = {}
    while len(ended) < len(started.jobs) and time.monotonic() - began < timeout:
        with session_scope() as session:
            for instance_id, op_id in started.jobs.items():
                op = session.get(Operation, op_id)
                done = op is not None and op.status in (
                    OperationStatus.SUCCEEDED,
                    OperationStatus.FAILED,
                )
                if instance_id not in ended and op is not None and done:
                    ended[instance_id] = (op.status, time.monotonic() - began)
        time.sleep(1)
    return ended
