"""Restart and upgrade jobs: change an instance while it keeps serving.

A standalone instance changes in place (one restart). An HA instance rolls:
1. its synchronous standby is released (recorded ``degraded`` first: commits stop waiting for
   it), changed (restarted, or re-created with its new limits or volume), and made synchronous
   again;
2. a planned switchover makes it the main node: writes pause only for the switch;
3. the old main node is rebuilt as the new standby, already changed (a converge), and the
   instance is synchronous again.
Read replicas change one by one; they serve reads only. The API recorded the desired state
(the new node type, volume, HA) before this job runs, so each step compares what runs with the
rows: a job killed half-way is resumed by the sweeper and carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.session import session_factory
from controlplane.domain.failures import PermanentError
from controlplane.domain.states import InstanceStatus
from workers import docker_driver, log_collector, naming, nodes, takeover, volumes
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import (
    check_wanted,
    converge_instance,
    load_instance,
    make_synchronous,
    release_synchronous,
)
from workers.runner import OperationContext

log = logging.getLogger(__name__)
Change = Callable[[Blueprint, str], None]


def current_blueprint(sessions: sessionmaker[Session], instance_id: str) -> Blueprint | None:
    """The instance as its rows say now; None once it is gone or being deleted."""
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return None
        return load_blueprint(instance)


def roll(ctx: OperationContext, change: Change, ready: bool = True) -> None:
    """Apply ``change`` to every node, the main node last and, with HA, through a switchover.
    The instance is ready at the end, unless ``ready`` is false (the job settles it)."""
    instance_id, sessions = ctx.resource_id, ctx.sessions
    bp = current_blueprint(sessions, instance_id)
    if bp is None:
        return
    nodes.start_if_stopped(bp, bp.primary)  # (killed during an earlier attempt)
    for replica in bp.replicas():
        check_wanted(sessions, instance_id)
        change(bp, replica)
    if not bp.standbys():
        check_wanted(sessions, instance_id)
        change(bp, bp.primary)
    elif not ctx.params.get("switched_over"):
        (standby,) = bp.standbys()
        check_wanted(sessions, instance_id)
        bp = release_synchronous(sessions, instance_id)
        change(bp, standby)
        make_synchronous(sessions, instance_id)
        bp = current_blueprint(sessions, instance_id)
        assert bp is not None
        check_wanted(sessions, instance_id)
        timings = takeover.switch_over(sessions, bp)
        _remember(ctx, "switched_over", str(timings))
    converge_instance(sessions, instance_id, {}, ready)  # rebuilds the old main node, then sync


def _remember(ctx: OperationContext, key: str, value: object) -> None:
    """A step done, kept in the operation: a retry of the job does not do it twice."""
    from controlplane.db.models import Operation

    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, key: value}
            session.commit()
    ctx.params[key] = value


# --- what changes on one node ------------------------------------------------------------------


def restart_node(bp: Blueprint, node: str) -> None:
    """The engine process stops (cleanly) and starts again on the same data and container."""
    docker_driver.restart(bp.container(node), timeout=bp.runtime.stop_timeout)
    _wait_back(bp, node)


def recreate_node(bp: Blueprint, node: str) -> None:
    """A new container on the same data: new limits, new memory-derived configuration."""
    if bp.roles[node].kind == "primary":
        nodes.ensure_primary(bp, node)
    else:
        nodes.ensure_standby(bp, node, rebuild=False)
    _wait_back(bp, node)
    nodes.write_config(bp, node)


def rebuild_node(bp: Blueprint, node: str) -> None:
    """A follower copied afresh onto a volume of the instance's (new) volume type."""
    if bp.roles[node].kind == "primary":
        raise PermanentError("the main node is moved by a switchover, never rebuilt in place")
    docker_driver.stop_and_remove(bp.container(node), timeout=bp.runtime.stop_timeout)
    drop_volume(bp, node)
    nodes.ensure_standby(bp, node, rebuild=True)
    nodes.wait_streaming(bp, node, timeout=120)
    nodes.write_config(bp, node)


def grow_node(bp: Blueprint, node: str) -> None:
    name = naming.volume(bp.instance_id, node)
    try:
        volumes.grow(name, bp.volume_size)
        return
    except volumes.OnlineGrowthRefused as refused:
        log.info("%s of %s grows offline: %s", node, bp.instance_id, refused)
    docker_driver.stop(bp.container(node), timeout=bp.runtime.stop_timeout)
    volumes.grow_offline(name, bp.volume_size)
    nodes.volume_mount(bp, node)  # mounted again, grown
    docker_driver.start(bp.container(node))
    _wait_back(bp, node)


def _wait_back(bp: Blueprint, node: str) -> None:
    if bp.roles[node].kind == "primary":
        bp.agent.wait_ready(connection(bp, node), timeout=120)
    else:
        nodes.wait_streaming(bp, node, timeout=120)


def drop_volume(bp: Blueprint, node: str) -> None:
    """Both kinds of volume of the node go (the instance's volume type changed), once the
    log collector took what the node logged since its last pass."""
    log_collector.collect_instance(session_factory(), bp.instance_id)
    name = naming.volume(bp.instance_id, node)
    docker_driver.remove_volume(name)
    volumes.remove(name)


# --- the jobs ---------------------------------------------------------------------------------


def restart(ctx: OperationContext) -> None:
    roll(ctx, restart_node)


def upgrade_node_type(ctx: OperationContext) -> None:
    roll(ctx, recreate_node)


def enable_ha(ctx: OperationContext) -> None:
    """The rows already say HA: the converge copies the main node to a new standby online and
    switches to synchronous once it streams."""
    converge_instance(ctx.sessions, ctx.resource_id, {})


def grow_volume(ctx: OperationContext) -> None:
    """Every node's block volume grows to the recorded size: online (mounted, in use) where
    the host allows it, else each node restarts on its grown volume, rolled like a restart."""
    roll(ctx, grow_node)


def change_volume_type(ctx: OperationContext) -> None:
    """HA: the standby (and replicas) are copied afresh onto the new type, then the main node
    moves by switchover and is rebuilt on it too. Standalone: the data is copied while the
    engine is stopped (see ``volumes.move``)."""
    bp = current_blueprint(ctx.sessions, ctx.resource_id)
    if bp is None:
        return
    if volumes.same_kind(str(ctx.params["from_type"]), bp.volume_type):
        converge_instance(ctx.sessions, ctx.resource_id, {})  # nothing to move (see volumes)
        return
    if bp.standbys():
        roll(ctx, rebuild_node)
        return
    for replica in bp.replicas():
        rebuild_node(bp, replica)
    _move_standalone(ctx, bp)
    converge_instance(ctx.sessions, ctx.resource_id, {})


def _move_standalone(ctx: OperationContext, bp: Blueprint) -> None:
    """Stop the main node, copy its data to a volume of the new type, start it there."""
    if ctx.params.get("moved"):
        return
    node = bp.primary
    source = str(ctx.params["from_type"])
    docker_driver.stop_and_remove(bp.container(node), timeout=bp.runtime.stop_timeout)
    log_collector.collect_instance(session_factory(), bp.instance_id)  # its last lines
    nodes.copy_volume(bp, node, source)
    _remember(ctx, "moved", True)
    name = naming.volume(bp.instance_id, node)
    if source == "lssd":
        docker_driver.remove_volume(name)
    else:
        volumes.remove(name)
