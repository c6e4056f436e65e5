"""Apply an instance's new settings on every node (main node, standby, read replicas).

The API recorded the new list on the row and the previous one in the operation (``from``);
``settings_change.plan_change`` compares them:
- every changed setting is hot: each running node's configuration is rewritten and reloaded
  (MariaDB sets hot settings at runtime; those no longer listed are set back to their default
  value, since it never re-reads its files);
- one is not: a rolling restart with the configuration rewritten first. Usually the restart
  job's roll (followers, then the standby, a switchover, the old main node rebuilt); when a
  PostgreSQL setting a standby must hold at least as high as its primary decreases, the main
  node restarts in place first (the instance recorded ``degraded`` meanwhile, so the HA
  monitor does not fail over), then its followers.
Both end with the instance ``ready``. A retried job computes the same plan from the same rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controlplane.catalog.settings_change import Change, plan_change
from controlplane.db.models import Operation
from controlplane.domain.states import InstanceStatus
from workers import docker_driver, nodes, topology
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import (
    check_wanted,
    converge_instance,
    load_instance,
    refresh_configuration,
    release_synchronous,
)
from workers.runner import OperationContext
from workers.upgrade_jobs import restart_node, roll


def apply(ctx: OperationContext) -> None:
    loaded = _load(ctx.sessions, ctx.resource_id, ctx.params.get("from"))
    if loaded is None:
        return
    bp, plan = loaded
    if not plan.restart:
        _reset(bp, plan)
        refresh_configuration(ctx)  # every running node rewritten and reloaded, then ready
    elif plan.main_first and (bp.standbys() or bp.replicas()):
        _roll_main_first(ctx)
    else:
        roll(ctx, reconfigure_and_restart)


def _load(
    sessions: sessionmaker[Session], instance_id: str, before: Any
) -> tuple[Blueprint, Change] | None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return None
        bp = load_blueprint(instance)
        plan = plan_change(
            bp.version, before if isinstance(before, list) else [], instance.settings
        )
    return bp, plan


def reconfigure_and_restart(bp: Blueprint, node: str) -> None:
    """The node's files as the rows say, then a restart that reads them."""
    nodes.write_config(bp, node)
    restart_node(bp, node)


def _reset(bp: Blueprint, plan: Change) -> None:
    """Hot settings no longer listed, back to their default on engines that keep runtime values
    (PostgreSQL ignores these: it reverts a parameter removed from its files on reload)."""
    defaults = [(s.name, s.default_value) for s in map(bp.version.setting, plan.resets) if s]
    resets = topology.server_settings(bp.version, defaults)
    if not resets:
        return
    for node in bp.roles:
        if docker_driver.container_state(bp.container(node)) == "running":
            bp.agent.reload(connection(bp, node), resets)


def _roll_main_first(ctx: OperationContext) -> None:
    instance_id, sessions = ctx.resource_id, ctx.sessions
    if not ctx.params.get("main_restarted"):
        check_wanted(sessions, instance_id)
        bp = release_synchronous(sessions, instance_id)  # the monitor must not fail over
        reconfigure_and_restart(bp, bp.primary)
        _remember(ctx, "main_restarted")
    loaded = _load(sessions, instance_id, ctx.params.get("from"))
    if loaded is None:
        return
    bp, _plan = loaded
    for node in bp.standbys() + bp.replicas():
        check_wanted(sessions, instance_id)
        # It restarts on its lower value only once it replayed the restarted primary's record
        # of that value: its control file must no longer ask for the old, higher one.
        nodes.wait_caught_up(bp, node)
        reconfigure_and_restart(bp, node)
    converge_instance(sessions, instance_id, {})  # synchronous again, then ready


def _remember(ctx: OperationContext, key: str) -> None:
    """A step done, kept in the operation: a retried job does not restart the main node again."""
    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, key: True}
            session.commit()
    ctx.params[key] = True
