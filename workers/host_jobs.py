"""Leaving a swarm host (``dbaas drain-host``): one job per instance with something there.

The host is drained in the swarm first, so placement never picks it again. Then, as
controlplane/domain/placement.py ``drain_plan`` orders it: read replicas and the standby leave
first (the standby released from synchronous replication while it is copied afresh on its new
host, then synchronous again), the main node hands over to its standby by a planned switchover
and is rebuilt elsewhere as the new standby, so no acknowledged commit is lost; a load balancer
there moves too (its endpoint's address becomes its new host's). A standalone main node would
move with downtime: the command reports it and leaves it. A job killed half-way resumes: every
step compares the rows and the hosts with what is wanted.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Instance
from controlplane.domain.failures import PermanentError
from workers import docker_driver, node_placement, nodes, takeover
from workers.blueprint import Blueprint
from workers.instance_jobs import (
    check_wanted,
    converge_instance,
    load_instance,
    make_synchronous,
    release_synchronous,
)
from workers.runner import OperationContext
from workers.upgrade_jobs import current_blueprint, drop_volume

log = logging.getLogger(__name__)


def _rehost(sessions: sessionmaker[Session], bp: Blueprint, node: str) -> None:
    """A follower leaves ``host``: its container and volume there go (the main node holds
    every commit), its row gets another host and is marked for a fresh copy."""
    docker_driver.stop_and_remove(bp.container(node), timeout=bp.runtime.stop_timeout)
    drop_volume(bp, node)  # (what it logged is collected first)
    with sessions() as session:
        instance = load_instance(session, bp.instance_id)
        if instance is None:
            return
        for row in instance.nodes:
            if row.name == node:
                row.host, row.needs_rebuild = None, True
        node_placement.place_new_nodes(session, instance)
        # a read replica's direct-access endpoint follows it to its new host
        moved_to = next(n.host for n in instance.nodes if n.name == node)
        replicas = {r.id for r in instance.read_replicas if r.node_name == node}
        for endpoint in instance.endpoints:
            if endpoint.read_replica_id in replicas and moved_to is not None:
                endpoint.ip = docker_driver.host_address(moved_to)
        node_placement.cover_endpoint_addresses(instance)
        session.commit()


def _move_follower(sessions: sessionmaker[Session], instance_id: str, node: str, host: str) -> None:
    bp = current_blueprint(sessions, instance_id)
    if bp is None or bp.hosts.get(node) != host:
        return
    _rehost(sessions, bp, node)
    moved = current_blueprint(sessions, instance_id)
    assert moved is not None
    nodes.ensure_standby(moved, node, rebuild=True)
    nodes.wait_streaming(moved, node, timeout=120)
    nodes.write_config(moved, node)
    log.info("instance %s: %s left %s for %s", instance_id, node, host, moved.hosts.get(node))


def _move_balancer(session: Session, instance: Instance, host: str) -> None:
    """The load balancer gets another host; the converge re-creates it there."""
    if instance.load_balancer_host != host:
        return
    instance.load_balancer_host = None
    node_placement.place_new_nodes(session, instance)
    address = docker_driver.host_address(instance.load_balancer_host or "")
    for endpoint in instance.endpoints:
        if endpoint.kind == "load_balancer":
            endpoint.ip = address
    node_placement.cover_endpoint_addresses(instance)


def leave_host(ctx: OperationContext) -> None:
    host = str(ctx.params["host"])
    instance_id, sessions = ctx.resource_id, ctx.sessions
    bp = current_blueprint(sessions, instance_id)
    if bp is None:
        return
    if bp.hosts.get(bp.primary) == host and not bp.standbys():
        raise PermanentError("a standalone main node moves only with downtime")
    nodes.start_if_stopped(bp, bp.primary)
    for replica in bp.replicas():
        check_wanted(sessions, instance_id)
        _move_follower(sessions, instance_id, replica, host)
    for standby in bp.standbys():
        if bp.hosts.get(standby) == host:
            check_wanted(sessions, instance_id)
            release_synchronous(sessions, instance_id)
            _move_follower(sessions, instance_id, standby, host)
            make_synchronous(sessions, instance_id)
    bp = current_blueprint(sessions, instance_id)
    assert bp is not None
    if bp.hosts.get(bp.primary) == host:
        check_wanted(sessions, instance_id)
        takeover.switch_over(sessions, bp)  # the old main node, now a follower, leaves below
        bp = current_blueprint(sessions, instance_id)
        assert bp is not None
    for follower in bp.standbys():
        if bp.hosts.get(follower) == host:
            _rehost(sessions, bp, follower)
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is not None:
            _move_balancer(session, instance, host)
            session.commit()
    converge_instance(sessions, instance_id, {})  # the rebuilt standby, synchronous; ready
