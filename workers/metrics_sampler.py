"""Every ``metrics_interval_seconds`` (Celery beat): one sample of each metric of each running
node of the instances that serve (any status but provisioning, deleting and unknown).

A round reads the instances (a short read), observes their running nodes in parallel (the
container's cgroup files, its data volume, one engine session as the service superuser through
``EngineAgent.activity``), turns the readings into values (workers/metric_values.py) against
the running counts of the previous round, kept in this process's memory, and writes them in
one short transaction that also drops the samples past ``metrics_retention_hours``. A node
that does not answer loses the values it would have given this round, nothing more.
Followers' replication lag is what the periodic reconcile last observed on their node rows,
recorded once per observation, at the time it was made.

Rounds never overlap: a Redis lock is held through the round, then until the next one is
due, so queued rounds that piled up behind busy workers do not sample twice in a row.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from redis.lock import Lock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.base import utcnow
from controlplane.db.models import Instance
from controlplane.domain import metrics
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.domain.states import InstanceStatus
from controlplane.services import metric_samples
from controlplane.settings import get_settings
from workers import cgroups, docker_driver, locks, naming, topology, volumes
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.metric_values import (
    CPU_SECONDS,
    WRITE_TRANSACTIONS,
    Count,
    NodeReading,
    carried_counts,
    new_observations,
    node_values,
)

log = logging.getLogger(__name__)
SAMPLED = tuple(
    s.value
    for s in InstanceStatus
    if s not in (InstanceStatus.PROVISIONING, InstanceStatus.DELETING, InstanceStatus.UNKNOWN)
)
OBSERVERS = 8  # nodes observed at once
ROUND_TIMEOUT_SECONDS = 120  # the lock frees itself if a worker dies mid-round

_counts: dict[str, dict[str, Count]] = {}  # container id -> running counts of the last round


@dataclass(frozen=True)
class Target:
    instance_id: str
    node: str
    blueprint: Blueprint
    limits: topology.Limits
    volume: str | None  # a loop-mounted block volume; lssd ones (Docker volumes) are not measured


def sample_all(sessions: sessionmaker[Session]) -> int:
    """One round; returns the samples written (0 when another round holds the lock)."""
    settings = get_settings()
    lock = locks.resource_lock("metrics_sampler", settings.queue_name, ROUND_TIMEOUT_SECONDS)
    if not lock.acquire(blocking=False):
        return 0
    started = time.monotonic()
    try:
        return _round(sessions, utcnow())
    finally:
        _hold_until(lock, started + 0.8 * settings.metrics_interval_seconds)


def _hold_until(lock: Lock, due: float) -> None:
    remaining = due - time.monotonic()
    with suppress(redis.exceptions.LockError):  # expired meanwhile: nothing to hold
        if remaining > 0.01:
            lock.extend(remaining, replace_ttl=True)
        else:
            lock.release()


def _round(sessions: sessionmaker[Session], now: datetime) -> int:
    started = time.monotonic()
    targets, samples = _read(sessions)
    observed, running = _observe(targets)
    for target, reading in observed:
        values = node_values(
            reading,
            _counts.get(reading.container_id, {}),
            cpus=target.limits.nano_cpus / 1e9,
            memory_bytes=target.limits.mem_bytes,
        )
        samples[target.instance_id] += [
            metrics.Sample(target.node, name, now, value) for name, value in values.items()
        ]
    if running is not None:
        carried = carried_counts(_counts, [reading for _, reading in observed], running)
        _counts.clear()
        _counts.update(carried)
    written = _store(sessions, samples, now)
    log.debug(
        "metrics: %d samples of %d nodes in %.0f ms",
        written, len(observed), 1000 * (time.monotonic() - started),
    )  # fmt: skip
    return written


def _read(
    sessions: sessionmaker[Session],
) -> tuple[list[Target], defaultdict[str, list[metrics.Sample]]]:
    """The nodes to observe, and the replication lag observations not recorded yet."""
    settings = get_settings()
    targets: list[Target] = []
    lag: defaultdict[str, list[metrics.Sample]] = defaultdict(list)
    with sessions() as session:
        for instance in session.scalars(select(Instance).where(Instance.status.in_(SAMPLED))):
            try:
                bp = load_blueprint(instance)
            except (PermanentError, ValueError) as exc:
                log.warning("metrics: instance %s not sampled: %s", instance.id, exc)
                continue
            limits = topology.node_limits(bp.node_type)
            block = instance.volume_type != "lssd" and settings.loop_volumes
            for node in instance.nodes:
                volume = naming.volume(instance.id, node.name) if block else None
                targets.append(Target(instance.id, node.name, bp, limits, volume))
            lag[instance.id] += _new_lag(session, instance)
    return targets, lag


def _new_lag(session: Session, instance: Instance) -> list[metrics.Sample]:
    observed = {
        n.name: (n.observed_at, float(n.replication_lag_bytes))
        for n in instance.nodes
        if n.role != "primary" and n.observed_at is not None and n.replication_lag_bytes is not None
    }
    if not observed:
        return []
    recorded = metric_samples.recorded_since(
        session, instance.id, metrics.REPLICATION_LAG_BYTES, min(at for at, _ in observed.values())
    )
    return [
        metrics.Sample(node, metrics.REPLICATION_LAG_BYTES, at, value)
        for node, (at, value) in sorted(new_observations(observed, recorded).items())
    ]


def _observe(
    targets: list[Target],
) -> tuple[list[tuple[Target, NodeReading]], set[str] | None]:
    """Readings of the targets whose container runs, and the ids of all running containers
    (None: Docker did not list them)."""
    try:
        running = docker_driver.running_containers(naming.owner_filter())
    except TemporaryError as exc:
        log.warning("metrics: containers not listed: %s", exc)
        return [], None
    present = [
        (t, running[t.blueprint.container(t.node)])
        for t in targets
        if t.blueprint.container(t.node) in running
    ]
    if not present:
        return [], set(running.values())
    with ThreadPoolExecutor(max_workers=min(OBSERVERS, len(present))) as pool:
        readings = list(pool.map(lambda p: _observe_node(*p), present))
    return [(t, r) for (t, _), r in zip(present, readings, strict=True)], set(running.values())


def _observe_node(target: Target, container_id: str) -> NodeReading:
    counts: dict[str, Count] = {}
    memory_bytes: int | None = None
    connections: int | None = None
    try:
        used = cgroups.usage(container_id)
    except (TemporaryError, PermanentError) as exc:
        log.info("metrics: %s/%s: no container figures: %s", target.instance_id, target.node, exc)
        used = None
    if used is not None:
        counts[CPU_SECONDS] = Count(used.cpu_seconds, time.monotonic())
        memory_bytes = used.memory_bytes
    disk = volumes.space(target.volume) if target.volume else None
    try:
        activity = target.blueprint.agent.activity(connection(target.blueprint, target.node))
    except (TemporaryError, PermanentError) as exc:
        log.info("metrics: %s/%s: no engine figures: %s", target.instance_id, target.node, exc)
    else:
        counts[WRITE_TRANSACTIONS] = Count(activity.write_transactions, time.monotonic())
        connections = activity.connections
    return NodeReading(container_id, counts, memory_bytes, connections, disk)


def _store(
    sessions: sessionmaker[Session], samples: dict[str, list[metrics.Sample]], now: datetime
) -> int:
    """Only for instances still sampled: one deleted meanwhile gets none (its deletion removed
    its samples). The retention goes first: on SQLite it takes the write lock, so that check
    cannot go stale before the samples are added."""
    cutoff = now - timedelta(hours=get_settings().metrics_retention_hours)
    wanted = [instance_id for instance_id, found in samples.items() if found]
    with sessions() as session:
        metric_samples.drop_before(session, cutoff)
        live = _still_sampled(session, wanted)
        for instance_id in live:
            metric_samples.add(session, samples[instance_id], instance_id)
        session.commit()
    return sum(len(samples[instance_id]) for instance_id in live)


def _still_sampled(session: Session, instance_ids: list[str]) -> set[str]:
    if not instance_ids:
        return set()
    query = select(Instance.id).where(Instance.id.in_(instance_ids), Instance.status.in_(SAMPLED))
    return set(session.scalars(query))
