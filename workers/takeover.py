"""The standby takes over from the main node: the one sequence behind a failover (the HA
monitor, the main node dead) and a planned switchover (a job: restart, upgrade).

Order matters. The old main node is fenced first: killed, no restart policy, so it can never
acknowledge a commit again (while the instance is ``sync`` every acknowledged commit is on the
standby, and the old main node is rebuilt from the new one afterwards, so whatever it had that
the standby had not was never acknowledged). Then the standby is promoted once it has applied
everything it received, the load balancer is re-pointed, and the new topology is recorded:
the old main node is now a standby waiting for its rebuild, the instance ``degraded`` until the
rebuilt standby is synchronous again. A planned switchover first drains the load balancer (no
new session reaches the old main node) and checks that the standby is synchronous.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.failures import HostUnreachable, TemporaryError
from workers import docker_driver, faultpoints, naming, nodes, proxies
from workers.blueprint import Blueprint, connection, lb_servers, through_load_balancer
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import load_instance, record_sync_mode

log = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 0.8


@dataclass(frozen=True)
class Timings:
    fenced: float
    promoted: float
    routed: float
    serving: float

    def __str__(self) -> str:
        return (
            f"fenced in {self.fenced:.2f}s, promoted in {self.promoted:.2f}s, "
            f"routed in {self.routed:.2f}s, serving after {self.serving:.2f}s"
        )


def can_take_over(bp: Blueprint, standby: str) -> bool:
    """Checked before anything is fenced: a standby that is gone or does not answer must not
    be promoted, and the main node is left alone."""
    if docker_driver.container_state(bp.container(standby)) != "running":
        return False
    try:
        bp.agent.ping(connection(bp, standby), timeout=PROBE_TIMEOUT_SECONDS)
    except TemporaryError:
        return False
    return True


def take_over(sessions: sessionmaker[Session], bp: Blueprint, new: str) -> Timings:
    """Fence the main node of ``bp``, promote ``new``, route to it, record it (see above)."""
    old, instance_id = bp.primary, bp.instance_id
    started = time.monotonic()
    try:
        docker_driver.fence(bp.container(old))  # 1. the old main node never serves again
    except HostUnreachable:
        # Its host is down or cut off: the old main node may still run there, but it can
        # acknowledge no commit (the standby it waits for is the one promoted now) and gets
        # no traffic (the load balancer is re-pointed next); rebuilt once the host is back.
        log.warning("instance %s: %s's host does not answer; not fenced", instance_id, old)
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
    wait_through_endpoint(sessions, bp)
    return Timings(
        fenced - started, promoted - fenced, routed - promoted, time.monotonic() - started
    )


def switch_over(sessions: sessionmaker[Session], bp: Blueprint) -> Timings:
    """Planned: the synchronous standby becomes the main node; the old one is then rebuilt as
    its standby by a converge. Refused (``TemporaryError``) unless the standby is synchronous
    and answers, before anything changes."""
    (new,) = bp.standbys()
    states = bp.agent.replication_state(connection(bp, bp.primary))
    if not (new in states and states[new].synchronous) or not can_take_over(bp, new):
        raise TemporaryError(f"standby {new} is not synchronous: no switchover now")
    # Promises less than the truth (the standby is still synchronous): always safe, and the
    # monitor does not step in while the old main node goes.
    record_sync_mode(sessions, bp.instance_id, "degraded")
    lb = naming.lb_container(bp.instance_id)
    proxies.drain(lb, lb_servers(bp))  # no session reaches the old main node any more
    timings = take_over(sessions, bp, new)
    log.info("instance %s: switched over from %s to %s: %s", bp.instance_id, bp.primary, new,
             timings)  # fmt: skip
    return timings


def wait_through_endpoint(sessions: sessionmaker[Session], bp: Blueprint) -> None:
    with sessions() as session:
        instance = load_instance(session, bp.instance_id)
        endpoint = (
            next((e for e in instance.endpoints if e.kind == "load_balancer"), None)
            if instance
            else None
        )
    if endpoint is None:
        return
    bp.agent.wait_ready(through_load_balancer(bp), timeout=30)
