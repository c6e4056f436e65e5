"""Apply an instance's maintenances (services/maintenances.py started them).

- An image update moves the instance's pinned image to the tag's newer build and rolls every
  node onto it like a restart (workers/upgrade_jobs.py): replicas, then the standby, a planned
  switchover, the old main node last; a standalone instance restarts once.
- A certificate renewal (the API issued the certificate) reaches every node by a reload, or by
  the roll when there is one.
The maintenances are done and the instance ready in one transaction at the end; a job that
fails for good leaves them pending again, the instance in error.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Instance, Maintenance
from controlplane.domain.failures import PermanentError
from controlplane.domain.maintenance import Kind
from controlplane.domain.states import InstanceStatus
from controlplane.services import maintenances
from workers import docker_driver, nodes
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import load_instance, mark_error, set_status
from workers.runner import OperationContext
from workers.upgrade_jobs import recreate_node, roll

log = logging.getLogger(__name__)


def apply(ctx: OperationContext) -> None:
    ids = _ids(ctx)
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return
        kinds = {Kind(m.kind) for m in _ours(instance, ids)}
        if Kind.IMAGE_UPDATE in kinds:
            _move_pin(instance, _ours(instance, ids))
        session.commit()
        bp = load_blueprint(instance)
    if Kind.IMAGE_UPDATE in kinds:
        roll(ctx, recreate_node, ready=False)  # new containers carry the new certificate too
    else:
        for node in bp.roles:
            if docker_driver.container_state(bp.container(node)) == "running":
                nodes.write_config(bp, node)
    _finish(ctx.sessions, ctx.resource_id, ids, applied=True)


def _ids(ctx: OperationContext) -> list[str]:
    ids = ctx.params.get("maintenances")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _ours(instance: Instance, ids: list[str]) -> list[Maintenance]:
    return [m for m in instance.maintenances if m.id in ids]


def _move_pin(instance: Instance, rows: list[Maintenance]) -> None:
    """The pin goes to the announced build; to the tag's build now if that one was removed."""
    target = next((m.target for m in rows if m.kind == Kind.IMAGE_UPDATE and m.target), None)
    if target is None or docker_driver.image_info(target) is None:
        newest = docker_driver.image_info(load_blueprint(instance).version.image)
        if newest is None:
            raise PermanentError("the engine image is missing: run deploy/images/build.sh")
        target = newest.image_id
    if instance.image_id != target:
        log.info("instance %s: image %s -> %s", instance.id, instance.image_id, target)
        instance.image_id = target


def _finish(
    sessions: sessionmaker[Session], instance_id: str, ids: list[str], applied: bool
) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return
        maintenances.finish(session, instance, ids, applied)
        if applied and instance.status == InstanceStatus.INITIALIZING:
            set_status(session, instance, InstanceStatus.READY)
        session.commit()


def failed(ctx: OperationContext, message: str) -> None:
    """The instance in error; its maintenances pending again, for a later apply."""
    ids = _ids(ctx)
    mark_error(ctx, message)
    _finish(ctx.sessions, ctx.resource_id, ids, applied=False)
