"""What the HA monitor observes and does: fail over, heal the main node, degrade to async.

Every action holds the instance's lock (workers/locks.py) and re-reads the rows under it, so a
monitor acting on stale observations cannot promote a second node. Failover order matters:
fence the old main node first (it can never accept a write again: killed, no restart policy,
no load-balancer route), then promote, then re-point the load balancer, then record.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.failures import TemporaryError
from controlplane.domain.states import InstanceStatus, OperationStatus
from controlplane.services import operations
from controlplane.settings import get_settings
from workers import docker_driver, faultpoints, locks, naming, nodes, preemption, proxies
from workers.blueprint import Blueprint, connection, lb_servers
from workers.blueprint import load as load_blueprint
from workers.ha_policy import Action, Observation
from workers.instance_jobs import load_instance, set_status

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
    primary_running = docker_driver.container_state(bp.container(bp.primary)) == "running"
    standby_running = standby is not None and (
        docker_driver.container_state(bp.container(standby)) == "running"
    )
    answers, streaming = False, False
    if primary_running:
        # The probe runs in a thread with a short deadline: a connection to a node that just
        # vanished would block for the driver's minimum connect timeout (2 s for libpq).
        probe = _PROBES.submit(bp.agent.replication_state, connection(bp, bp.primary))
        try:
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


def act(sessions: sessionmaker[Session], instance_id: str, action: Action, reason: str) -> bool:
    """Carry out the monitor's decision; False when someone else holds the instance."""
    with locks.holding("instance", instance_id, wait=1.0, ttl=60) as lock:
        if lock is None:  # a job holds it: ask it to yield, act at a next tick
            preemption.request(instance_id)
            return False
        preemption.withdraw(instance_id)
        if action == Action.FAILOVER:
            failover(sessions, instance_id, reason)
        elif action == Action.DEGRADE:
            degrade(sessions, instance_id, reason)
        elif action == Action.HEAL_PRIMARY:
            _heal(sessions, instance_id, reason)
        return True


def failover(sessions: sessionmaker[Session], instance_id: str, reason: str) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.sync_mode != "sync":
            return
        bp = load_blueprint(instance)
        old, (new,) = bp.primary, bp.standbys()
        if not _can_take_over(bp, new):
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

    started = time.monotonic()
    docker_driver.fence(bp.container(old))  # 1. the old main node never serves again
    faultpoints.pause("after_fence")
    fenced = time.monotonic()
    bp.agent.promote(connection(bp, new))  # 2. every acknowledged commit is already applied here
    promoted = time.monotonic()
    # 3. route to it: as a standby it waited for nobody, so it serves before its config changes
    proxies.point_to(naming.lb_container(instance_id), lb_servers(bp), new, bp.runtime.port)
    routed = time.monotonic()
    with sessions() as session:  # 4. record the new topology: the old main must be rebuilt
        instance = load_instance(session, instance_id)
        assert instance is not None
        instance.sync_mode = "degraded"
        for node in instance.nodes:
            if node.name in (old, new):
                node.role = "primary" if node.name == new else "standby"
                node.needs_rebuild = node.name == old
        session.commit()
        bp = load_blueprint(instance)
    nodes.write_config(bp, new)  # a primary without sync standbys until the rebuild is done
    for replica in bp.replicas():  # 5. read replicas follow the new main node
        try:
            bp.agent.prepare_follower(connection(bp, new), bp.roles[replica])
            nodes.write_config(bp, replica)
        except TemporaryError:
            log.warning("replica %s not re-pointed yet; the rebuild job will", replica)
    _wait_through_endpoint(sessions, bp, instance_id)
    log.warning(
        "instance %s: fenced in %.2fs, promoted in %.2fs, routed in %.2fs, serving after %.2fs",
        instance_id,
        fenced - started,
        promoted - fenced,
        routed - promoted,
        time.monotonic() - started,
    )
    with sessions() as session:
        instance = load_instance(session, instance_id)
        assert instance is not None
        set_status(session, instance, InstanceStatus.READY, None)
        _finish(session, op_id, f"failed over from {old} to {new}: {reason}")
        rebuild = operations.record_once(session, "heal_instance", "instance", instance_id)
        session.commit()
    operations.publish_after_commit(sessions, [rebuild.id if rebuild else None])


def _can_take_over(bp: Blueprint, standby: str) -> bool:
    """Checked before anything is fenced: a standby that is gone or does not answer must not
    be promoted, and the main node is left alone (the monitor looks again next tick)."""
    if docker_driver.container_state(bp.container(standby)) != "running":
        return False
    try:
        bp.agent.ping(connection(bp, standby), timeout=PROBE_TIMEOUT_SECONDS)
    except TemporaryError:
        return False
    return True


def degrade(sessions: sessionmaker[Session], instance_id: str, reason: str) -> None:
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


def _wait_through_endpoint(
    sessions: sessionmaker[Session], bp: Blueprint, instance_id: str
) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        endpoint = (
            next((e for e in instance.endpoints if e.kind == "load_balancer"), None)
            if instance
            else None
        )
    if endpoint is None:
        return
    conn = replace(
        connection(bp, bp.primary), host=get_settings().publish_address, port=endpoint.port
    )
    bp.agent.wait_ready(conn, timeout=30)


def _finish(session: Session, op_id: str, message: str) -> None:
    op = operations.get(session, op_id)
    op.params = {**op.params, "result": message}
    operations.finish(session, op, OperationStatus.SUCCEEDED, None)
