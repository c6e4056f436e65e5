"""Periodic reconcile: compare what runs with what we claim, and start healing when they differ.

The decision (``diagnose``) is pure; observing Docker and the engine happens around it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.catalog import find_engine_version, load_catalog
from controlplane.catalog.model import EngineVersion
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation
from controlplane.domain import maintenance
from controlplane.domain.errors import TransientState
from controlplane.domain.failures import TemporaryError
from controlplane.domain.states import InstanceStatus, OperationStatus
from controlplane.services import maintenances, operations, transitions
from controlplane.settings import get_settings
from workers import docker_driver, images, instance_jobs, naming, snapshot_jobs, volumes
from workers.blueprint import connection
from workers.blueprint import load as load_blueprint

log = logging.getLogger(__name__)
# Statuses whose instances get maintenances announced (not while provisioning or deleting).
ANNOUNCED = tuple(
    s.value
    for s in InstanceStatus
    if s not in (InstanceStatus.PROVISIONING, InstanceStatus.DELETING, InstanceStatus.UNKNOWN)
)


def diagnose(container_states: dict[str, str | None]) -> str | None:
    """A readable reason when a part of the instance is not running, else None."""
    problems = [
        f"{part} {'is missing' if state is None else f'is {state}'}"
        for part, state in sorted(container_states.items())
        if state != "running"
    ]
    return "; ".join(problems) or None


def observe(instance: Instance) -> dict[str, str | None]:
    """Node containers (HA nodes are the HA monitor's: only the load balancer is checked;
    a node waiting for its first copy or a rebuild has a job on its way)."""
    states = {
        node.name: docker_driver.container_state(naming.node_container(instance.id, node.name))
        for node in instance.nodes
        if not instance.is_ha_cluster and not node.needs_rebuild
    }
    if any(e.kind == "load_balancer" for e in instance.endpoints):
        states["load balancer"] = docker_driver.container_state(naming.lb_container(instance.id))
    replica_nodes = {r.id: r.node_name for r in instance.read_replicas}
    for endpoint in instance.endpoints:
        node = replica_nodes.get(endpoint.read_replica_id or "")
        if endpoint.kind == "direct_access" and node is not None:
            container = naming.endpoint_container(instance.id, node)
            states[f"endpoint of {node}"] = docker_driver.container_state(container)
    return states


def _has_open_operation(session: Session, instance: Instance) -> bool:
    """A job is pending or running on the instance or one of its read replicas."""
    open_statuses = (OperationStatus.PENDING.value, OperationStatus.RUNNING.value)
    resources = [instance.id, *(r.id for r in instance.read_replicas)]
    return (
        session.scalar(
            select(Operation.id)
            .where(Operation.resource_id.in_(resources), Operation.status.in_(open_statuses))
            .limit(1)
        )
        is not None
    )


def reconcile_all(sessions: sessionmaker[Session]) -> list[str]:
    """Full disks are marked (and cleared when space came back); ready instances with a
    stopped or vanished part go to ``autohealing`` with a heal job; maintenances are announced,
    and applied once forced (a certificate close to expiry, a rebuilt image); expired
    snapshots are deleted."""
    observe_replication(sessions)
    observe_disks(sessions)
    announce_maintenances(sessions)
    snapshot_jobs.expire(sessions)
    return _heal_broken(sessions) + _apply_forced(sessions)


def disk_is_full(free_bytes: int, size_bytes: int) -> bool:
    """Pure: less than 2% of the volume, or 256 MiB, left (a WAL segment is 16 MiB)."""
    return free_bytes < min(256 * 1024 * 1024, size_bytes // 50)


def observe_disks(sessions: sessionmaker[Session]) -> None:
    """A block volume that fills shows ``disk_full`` (the engine refuses writes as it
    decides); growing it (an upgrade) or freeing space brings the instance back."""
    statuses = (InstanceStatus.READY.value, InstanceStatus.DISK_FULL.value)
    with sessions() as session:
        rows = session.scalars(select(Instance).where(Instance.status.in_(statuses))).all()
        for instance in rows:
            primary = next((n.name for n in instance.nodes if n.role == "primary"), None)
            if primary is None or instance.volume_type == "lssd":
                continue
            free = volumes.free_bytes(naming.volume(instance.id, primary))
            if free is None:
                continue
            full = disk_is_full(free, instance.volume_size)
            if full and instance.status == InstanceStatus.READY:
                log.warning("instance %s: %d bytes left on its volume", instance.id, free)
                transitions.move_instance(session, instance.id, InstanceStatus.DISK_FULL,
                                          reason=f"{free} bytes left on the volume")  # fmt: skip
            elif not full and instance.status == InstanceStatus.DISK_FULL:
                transitions.move_instance(session, instance.id, InstanceStatus.READY)
        session.commit()


def observe_replication(sessions: sessionmaker[Session]) -> None:
    """Record each follower's streaming state and lag, as its primary reports them (metrics)."""
    with sessions() as session:
        ready = session.scalars(
            select(Instance).where(Instance.status == InstanceStatus.READY.value)
        ).all()
        for instance in ready:
            followers = [n for n in instance.nodes if n.role != "primary"]
            if not followers:
                continue
            bp = load_blueprint(instance)
            try:
                states = bp.agent.replication_state(connection(bp, bp.primary))
            except TemporaryError:
                continue  # the primary is down: the HA monitor or the heal deals with it
            now = utcnow()
            for node in followers:
                state = states.get(node.name)
                node.streaming = state is not None and state.streaming
                node.replication_lag_bytes = state.lag_bytes if state else None
                node.observed_at = now
        session.commit()


def announce_maintenances(sessions: sessionmaker[Session]) -> None:
    """What each instance needs announced (domain/maintenance.py): a certificate close to
    expiry, a newer build of its image tag than the one its nodes run."""
    now = utcnow()
    force_after = timedelta(hours=get_settings().maintenance_forced_after_hours)
    catalog = load_catalog()
    with sessions() as session:
        newest = {  # every version's: what upgradable_version shows too
            v.image: _newest(session, v) for v in catalog.engine_versions() if not v.disabled
        }
        for instance in session.scalars(select(Instance).where(Instance.status.in_(ANNOUNCED))):
            version = find_engine_version(catalog, instance.engine)
            if version is None or version.image not in newest:
                continue
            if instance.image_id is None and instance.status == InstanceStatus.READY:
                images.pin(instance)
            running = (
                images.describe(session, version, instance.image_id) if instance.image_id else None
            )
            wanted = [
                maintenance.certificate_renewal(instance.tls_expires_at, now),
                maintenance.image_update(
                    version.name, running, newest[version.image], now, force_after
                ),
            ]
            observed = frozenset(maintenance.Kind)
            if running is None or newest[version.image] is None:
                observed -= {maintenance.Kind.IMAGE_UPDATE}
            maintenances.announce(session, instance, [a for a in wanted if a is not None], observed)
        session.commit()


def _newest(session: Session, version: EngineVersion) -> maintenance.Image | None:
    try:
        return images.newest(session, version)
    except (TemporaryError, ValueError) as exc:  # tried again next time
        log.warning("image %s not observed: %s", version.image, exc)
        return None


def _apply_forced(sessions: sessionmaker[Session]) -> list[str]:
    """Ready instances with a maintenance past its forced date get it applied."""
    now = utcnow()
    applying: list[str] = []
    with sessions() as session:
        ready = session.scalars(
            select(Instance).where(Instance.status == InstanceStatus.READY.value)
        ).all()
        for instance in ready:
            pending = [m.forced_at for m in instance.maintenances if m.status == "pending"]
            if not maintenance.forced(pending, now) or _has_open_operation(session, instance):
                continue
            log.info("instance %s: applying its maintenances (forced)", instance.id)
            try:
                applying.append(maintenances.start_apply(session, instance)[1])
            except TransientState:
                continue  # a request started something else on it meanwhile
    if applying:
        operations.publish(sessions, applying)
    return applying


def _heal_broken(sessions: sessionmaker[Session]) -> list[str]:
    healing: list[str] = []
    with sessions() as session:
        ready = session.scalars(
            select(Instance).where(Instance.status == InstanceStatus.READY.value)
        ).all()
        for instance in ready:
            reason = diagnose(observe(instance))
            if reason is None or _has_open_operation(session, instance):
                continue
            log.warning("instance %s: %s; healing", instance.id, reason)
            instance_jobs.set_status(session, instance, InstanceStatus.AUTOHEALING, reason)
            healing.append(operations.record(session, "heal_instance", "instance", instance.id).id)
        session.commit()
    if healing:
        operations.publish(sessions, healing)
    return healing
