"""What the HA monitor observes and does: fail over, heal the main node, degrade to async.

Every action holds the instance's lock (workers/locks.py) and re-reads the rows under it, so a
monitor acting on stale observations cannot promote a second node. Failover order matters:
fence the old main node first (it can never accept a write again: killed, no restart policy,
no load-balancer route), then promote, then re-point the load balancer, then record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

from redis.lock import Lock
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.failures import HostUnreachable, TemporaryError
from controlplane.domain.states import InstanceStatus, OperationStatus
from controlplane.services import operations
from workers import docker_driver, locks, nodes, preemption, takeover
from workers.blueprint import connection
from workers.blueprint import load as load_blueprint
from workers.ha_policy import Action, Observation
from workers.instance_jobs import load_instance, set_status
from workers.runner import LeaseKeeper

log = logging.getLogger(__name__)
MONITOR = "ha-monitor"
PROBE_TIMEOUT_SECONDS = 0.8
_PROBES = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ha-probe")


def observe(sessions: sessionmaker[Session], instance_id: str) -> Observation | None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or len(instance.nodes) < 2:
            return None
        bp = load_blueprint(instance)
        sync_mode = instance.sync_mode
        rebuilding = {n.name for n in instance.nodes if n.needs_rebuild}
    (standby,) = bp.standbys() or (None,)
    # A node whose host does not answer (swarm mode: down, cut off) may still run: the main
    # node is then judged by the probe alone; such a standby cannot be promoted.
    primary_running = _running(bp.container(bp.primary)) is not False
    standby_running = standby is not None and _running(bp.container(standby)) is True
    answers, streaming = False, False
    if primary_running:
        # The probe runs in a thread with a short deadline: a connection to a node that just
        # vanished would block for the driver's minimum connect timeout (2 s for libpq).
        try:
            probe = _PROBES.submit(bp.agent.replication_state, connection(bp, bp.primary))
            states = probe.result(timeout=PROBE_TIMEOUT_SECONDS)
            answers = True
            streaming = standby is not None and standby in states and states[standby].streaming
        except (FutureTimeout, TemporaryError):
            answers = False
    return Observation(
        primary_running=primary_running,
        primary_answers=answers,
        standby_running=standby_running,
        standby_streaming=streaming,
        standby_rebuilding=standby in rebuilding,
        sync_mode=sync_mode,
    )


def _running(container: str) -> bool | None:
    """None: its host does not answer."""
    try:
        return docker_driver.container_state(container) == "running"
    except HostUnreachable:
        return None


def act(sessions: sessionmaker[Session], instance_id: str, action: Action, reason: str) -> bool:
    """Carry out the monitor's decision; False when someone else holds the instance."""
    with locks.holding("instance", instance_id, wait=1.0) as lock:
        if lock is None:  # a job holds it: ask it to yield, act at a next tick
            preemption.request(instance_id)
            return False
        preemption.withdraw(instance_id)
        if action == Action.FAILOVER:
            failover(sessions, instance_id, reason, lock)
        elif action == Action.DEGRADE:
            degrade(sessions, instance_id, reason, lock)
        elif action == Action.HEAL_PRIMARY:
            _heal(sessions, instance_id, reason)
        return True


@contextmanager
def _kept(sessions: sessionmaker[Session], op_id: str, lock: Lock | None) -> Iterator[None]:
    """The monitor's operation lease and the instance lock renewed while it acts: a monitor
    that dies leaves both to expire within seconds (the sweeper then closes the operation)."""
    if lock is None:
        yield
        return
    keeper = LeaseKeeper(sessions, op_id, MONITOR, lock)
    keeper.start()
    try:
        yield
    finally:
        keeper.stop()


def failover(
    sessions: sessionmaker[Session], instance_id: str, reason: str, lock: Lock | None = None
) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.sync_mode != "sync":
            return
        bp = load_blueprint(instance)
        old, (new,) = bp.primary, bp.standbys()
        if not takeover.can_take_over(bp, new):
            log.warning("instance %s: standby %s cannot take over now; not failing over",
                        instance_id, new)  # fmt: skip
            return
        if instance.status != InstanceStatus.AUTOHEALING:
            set_status(session, instance, InstanceStatus.AUTOHEALING, reason)
        op = operations.record_running(
            session,
            "failover",
            "instance",
            instance_id,
            MONITOR,
            {"from": old, "to": new, "reason": reason},
        )
        op_id = op.id
        session.commit()
    log.warning("instance %s: failing over from %s to %s (%s)", instance_id, old, new, reason)
    with _kept(sessions, op_id, lock):
        timings = takeover.take_over(sessions, bp, new)
    log.warning("instance %s: %s", instance_id, timings)
    with sessions() as session:
        instance = load_instance(session, instance_id)
        assert instance is not None
        set_status(session, instance, InstanceStatus.READY, None)
        _finish(session, op_id, f"failed over from {old} to {new}: {reason}")
        rebuild = operations.record_once(session, "heal_instance", "instance", instance_id)
        session.commit()
    operations.publish_after_commit(sessions, [rebuild.id if rebuild else None])


def degrade(
    sessions: sessionmaker[Session], instance_id: str, reason: str, lock: Lock | None = None
) -> None:
    """Record ``degraded`` first, then release the main node from waiting on the standby."""
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.sync_mode != "sync":
            return
        instance.sync_mode = "degraded"
        for node in instance.nodes:
            node.needs_rebuild = node.role == "standby"
        op = operations.record_running(
            session, "degrade", "instance", instance_id, MONITOR, {"reason": reason}
        )
        session.commit()
        bp = load_blueprint(instance)
        op_id = op.id
    with _kept(sessions, op_id, lock):
        nodes.write_config(bp, bp.primary)
    with sessions() as session:
        _finish(session, op_id, f"replication degraded to asynchronous: {reason}")
        rebuild = operations.record_once(session, "heal_instance", "instance", instance_id)
        session.commit()
    operations.publish_after_commit(sessions, [rebuild.id if rebuild else None])


def _heal(sessions: sessionmaker[Session], instance_id: str, reason: str) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.status != InstanceStatus.READY:
            return
        set_status(session, instance, InstanceStatus.AUTOHEALING, reason)
        heal = operations.record_once(session, "heal_instance", "instance", instance_id)
        session.commit()
    operations.publish_after_commit(sessions, [heal.id if heal else None])


def _finish(session: Session, op_id: str, message: str) -> None:
    op = operations.get(session, op_id)
    op.params = {**op.params, "result": message}
    operations.finish(session, op, OperationStatus.SUCCEEDED, None)
