"""Stored metric samples: read for the API, written by the sampler (workers/metrics_sampler.py),
dropped with their instance or once past the retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controlplane.db.models import MetricSample
from controlplane.domain import metrics


def between(
    session: Session, instance_id: str, window: metrics.Window, name: str | None = None
) -> list[metrics.Sample]:
    """The instance's samples in the window (both ends included), of one metric when named."""
    query = select(
        MetricSample.node_name, MetricSample.name, MetricSample.sampled_at, MetricSample.value
    ).where(
        MetricSample.instance_id == instance_id,
        MetricSample.sampled_at >= window.start,
        MetricSample.sampled_at <= window.end,
    )
    if name:
        query = query.where(MetricSample.name == name)
    return [
        metrics.Sample(node, metric, at, value)
        for node, metric, at, value in session.execute(query)
    ]


def recorded_since(
    session: Session, instance_id: str, name: str, since: datetime
) -> dict[str, datetime]:
    """Node -> time of its latest ``name`` sample at or after ``since``."""
    rows = session.execute(
        select(MetricSample.node_name, func.max(MetricSample.sampled_at))
        .where(
            MetricSample.instance_id == instance_id,
            MetricSample.sampled_at >= since,
            MetricSample.name == name,
        )
        .group_by(MetricSample.node_name)
    )
    return {node: at for node, at in rows if at is not None}


def latest(
    session: Session, names: Iterable[str], since: datetime
) -> dict[tuple[str, str, str], float]:
    """(instance id, node, metric) -> the latest of its values sampled at or after ``since``."""
    rows = session.execute(
        select(
            MetricSample.instance_id, MetricSample.node_name, MetricSample.name, MetricSample.value
        )
        .where(MetricSample.name.in_(list(names)), MetricSample.sampled_at >= since)
        .order_by(MetricSample.sampled_at, MetricSample.id)
    )
    return {(instance_id, node, name): value for instance_id, node, name, value in rows}


def add(session: Session, samples: Iterable[metrics.Sample], instance_id: str) -> None:
    session.add_all(
        MetricSample(
            instance_id=instance_id, node_name=s.node, name=s.name, sampled_at=s.at, value=s.value
        )
        for s in samples
    )


def drop_before(session: Session, cutoff: datetime) -> None:
    session.execute(delete(MetricSample).where(MetricSample.sampled_at < cutoff))


def forget(session: Session, instance_id: str, node: str | None = None) -> None:
    """An instance's samples (its deletion), or one node's (a read replica removed)."""
    query = delete(MetricSample).where(MetricSample.instance_id == instance_id)
    if node is not None:
        query = query.where(MetricSample.node_name == node)
    session.execute(query)
