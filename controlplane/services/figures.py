"""What the metadata store tells about the service, for /metrics: jobs by kind and outcome
with their durations (failovers are jobs of the HA monitor), and each instance's state with
its nodes' latest disk use and connections (metric samples)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation
from controlplane.domain import metrics
from controlplane.domain.states import InstanceStatus
from controlplane.services import metric_samples
from controlplane.settings import get_settings

# Node gauges come from the latest metric sample, unless older than five minutes (or this many
# sampling rounds, when longer): a sampler that stopped leaves no stale figures.
FRESH_ROUNDS = 5


@dataclass
class JobFigures:
    kind: str
    outcome: str  # the operation status: pending, running, succeeded, failed, cancelled
    count: int = 0
    seconds: float = 0.0  # summed over the finished ones, from record to finish
    finished: int = 0


@dataclass(frozen=True)
class NodeFigures:
    node: str
    role: str
    streaming: bool | None
    lag_bytes: int | None
    disk_used_bytes: float | None = None  # block volume types only
    connections: float | None = None


@dataclass(frozen=True)
class InstanceFigures:
    instance_id: str
    project_id: str
    engine: str
    status: str
    synchronous: bool | None  # None: not HA
    nodes: list[NodeFigures] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.status in (InstanceStatus.READY, InstanceStatus.BACKUPING)


def jobs(session: Session) -> list[JobFigures]:
    figures: dict[tuple[str, str], JobFigures] = {}
    counted = session.execute(
        select(Operation.kind, Operation.status, func.count()).group_by(
            Operation.kind, Operation.status
        )
    )
    for kind, outcome, count in counted:
        figures[(kind, outcome)] = JobFigures(kind, outcome, int(count))
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    finished = session.execute(
        select(Operation.kind, Operation.status, Operation.created_at, Operation.finished_at).where(
            Operation.finished_at.is_not(None)
        )
    )
    for kind, outcome, created_at, finished_at in finished:
        if finished_at is not None:
            durations[(kind, outcome)].append((finished_at - created_at).total_seconds())
    for key, seconds in durations.items():
        if key in figures:
            figures[key].seconds, figures[key].finished = sum(seconds), len(seconds)
    return sorted(figures.values(), key=lambda f: (f.kind, f.outcome))


def instances(session: Session) -> list[InstanceFigures]:
    rows = session.scalars(select(Instance).order_by(Instance.created_at)).all()
    fresh = max(300.0, FRESH_ROUNDS * get_settings().metrics_interval_seconds)
    latest = metric_samples.latest(
        session, (metrics.DISK_USED_BYTES, metrics.CONNECTIONS), utcnow() - timedelta(seconds=fresh)
    )
    return [
        InstanceFigures(
            instance_id=row.id,
            project_id=row.project_id,
            engine=row.engine,
            status=row.status,
            synchronous=(row.sync_mode == "sync") if row.is_ha_cluster else None,
            nodes=[
                NodeFigures(
                    n.name,
                    n.role,
                    n.streaming,
                    n.replication_lag_bytes,
                    disk_used_bytes=latest.get((row.id, n.name, metrics.DISK_USED_BYTES)),
                    connections=latest.get((row.id, n.name, metrics.CONNECTIONS)),
                )
                for n in row.nodes
            ],
        )
        for row in rows
    ]
