"""Read-replica jobs: provision, reset, add an endpoint, delete, promote. They run under the
parent instance's lock (see runner._lock_key) and reuse the instance converge."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from agents.base import Role
from controlplane.db.models import Endpoint, Instance, ReadReplica
from controlplane.domain.failures import TemporaryError
from controlplane.domain.states import InstanceStatus, ReadReplicaStatus
from controlplane.services import metric_samples, ports, transitions
from controlplane.settings import get_settings
from workers import docker_driver, naming, node_placement, nodes, proxies, volumes
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import (
    converge_instance,
    endpoint_port,
    ensure_node_rows,
    load_instance,
    set_status,
)
from workers.runner import OperationContext


def _replica(session: Session, replica_id: str) -> ReadReplica | None:
    return session.get(ReadReplica, replica_id, populate_existing=True)


def _set(
    session: Session, replica: ReadReplica, status: ReadReplicaStatus, reason: str | None = None
) -> None:
    """A guarded move; ``Cancelled`` when the replica is being deleted meanwhile."""
    transitions.settle_replica(session, replica, status, reason)


def _ensure_direct_access(session: Session, instance: Instance, replica: ReadReplica) -> None:
    """At the advertised address, or in swarm mode at the replica's host's (placed first),
    which the instance's certificate then names."""
    if any(e.read_replica_id == replica.id for e in instance.endpoints):
        return
    ensure_node_rows(session, instance)
    host = next((n.host for n in instance.nodes if n.name == replica.node_name), None)
    address = docker_driver.host_address(host) if host else get_settings().advertise_address
    port = endpoint_port(session, f"{instance.id}:{replica.node_name}", "direct_access")
    instance.endpoints.append(
        Endpoint(kind="direct_access", ip=address, port=port, read_replica_id=replica.id)
    )
    node_placement.cover_endpoint_addresses(instance)


def _finish(sessions: sessionmaker[Session], replica_id: str) -> None:
    with sessions() as session:
        replica = _replica(session, replica_id)
        if replica is not None and replica.status != ReadReplicaStatus.DELETING:
            _set(session, replica, ReadReplicaStatus.READY)
            session.commit()


def provision(ctx: OperationContext) -> None:
    instance_id = str(ctx.params["instance_id"])
    with ctx.sessions() as session:
        replica = _replica(session, ctx.resource_id)
        instance = load_instance(session, instance_id)
        if replica is None or instance is None or replica.status == ReadReplicaStatus.DELETING:
            return
        if ctx.params.get("direct_access"):
            _ensure_direct_access(session, instance, replica)
        session.commit()
    converge_instance(ctx.sessions, instance_id, {})
    _finish(ctx.sessions, ctx.resource_id)


def reset(ctx: OperationContext) -> None:
    """Rebuild the replica from a fresh copy of the primary."""

    def mark(session: Session, instance: Instance, replica: ReadReplica) -> None:
        for node in instance.nodes:
            if node.name == replica.node_name:
                node.needs_rebuild = True

    _change_and_converge(ctx, mark)


def add_endpoint(ctx: OperationContext) -> None:
    """A new port: the converge starts its proxy (the replica itself keeps running)."""

    def publish(session: Session, instance: Instance, replica: ReadReplica) -> None:
        _ensure_direct_access(session, instance, replica)

    _change_and_converge(ctx, publish)


def _change_and_converge(
    ctx: OperationContext, change: Callable[[Session, Instance, ReadReplica], None]
) -> None:
    """Apply ``change`` to the rows, converge the instance, and the replica is ready."""
    instance_id = str(ctx.params["instance_id"])
    with ctx.sessions() as session:
        replica = _replica(session, ctx.resource_id)
        instance = load_instance(session, instance_id)
        if replica is None or instance is None:
            return
        change(session, instance, replica)
        session.commit()
    converge_instance(ctx.sessions, instance_id, {})
    _finish(ctx.sessions, ctx.resource_id)


def _remove_replica(sessions: sessionmaker[Session], instance_id: str, replica_id: str) -> None:
    with sessions() as session:
        replica = _replica(session, replica_id)
        instance = load_instance(session, instance_id)
        if replica is None or instance is None:
            return
        node = replica.node_name
        bp = load_blueprint(instance)
    proxies.remove(naming.endpoint_container(instance_id, node))
    docker_driver.stop_and_remove(naming.node_container(instance_id, node))
    docker_driver.remove_volume(naming.volume(instance_id, node))
    volumes.remove(naming.volume(instance_id, node))
    # The primary keeps WAL for the replica's slot until it is dropped. A primary that is down
    # right now is rebuilt or failed over, and a new primary has no slot for this replica.
    with suppress(TemporaryError):
        bp.agent.prepare_clone(connection(bp, bp.primary), bp.roles[node])
    with sessions() as session:
        instance = load_instance(session, instance_id)
        replica = _replica(session, replica_id)
        if instance is not None:
            instance.endpoints[:] = [
                e for e in instance.endpoints if e.read_replica_id != replica_id
            ]
            instance.nodes[:] = [n for n in instance.nodes if n.name != node]
        if replica is not None:
            session.delete(replica)
        ports.release(session, f"{instance_id}:{node}")
        metric_samples.forget(session, instance_id, node)  # a later replica reuses the name
        session.commit()


def delete(ctx: OperationContext) -> None:
    _remove_replica(ctx.sessions, str(ctx.params["instance_id"]), ctx.resource_id)


def promote(ctx: OperationContext) -> None:
    """Copy the replica's data into a new instance's main node, promote it, drop the replica."""
    source_id, new_id = str(ctx.params["instance_id"]), str(ctx.params["new_instance_id"])
    with ctx.sessions() as session:
        replica = _replica(session, ctx.resource_id)
        source, new = load_instance(session, source_id), load_instance(session, new_id)
        if replica is None or source is None or new is None:
            return
        ensure_node_rows(session, new)
        session.commit()
        source_bp, new_bp = load_blueprint(source), load_blueprint(new)
        replica_node = replica.node_name
    _copy_replica(source_bp, replica_node, new_bp)
    _remove_replica(ctx.sessions, source_id, ctx.resource_id)  # its data lives on, promoted
    converge_instance(ctx.sessions, new_id, {})


def _copy_replica(source: Blueprint, replica_node: str, new: Blueprint) -> None:
    primary = new.primary
    container = docker_driver.find_container(new.container(primary))
    if container is None:
        nodes.ensure_instance_network(new.instance_id)
        spec = nodes.node_spec(new, primary, nodes.volume_mount(new, primary))
        follower = Role("standby", primary, primary_host=source.container(replica_node))
        source.agent.prepare_clone(connection(source, replica_node), follower)
        clone_spec = replace(
            spec, network=naming.network(source.instance_id)
        )  # reaches the replica
        nodes.run_clone(new, clone_spec, follower)
        docker_driver.ensure_container(
            spec, files=new.config_files(follower), files_base=new.runtime.data_mount
        )
    new.agent.wait_ready(connection(new, primary), timeout=60)
    new.agent.promote(connection(new, primary))


def mark_error(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        replica = _replica(session, ctx.resource_id)
        deleting = replica is not None and replica.status == ReadReplicaStatus.DELETING
        if deleting and ctx.kind != "delete_replica":
            replica = None  # cut short by a deletion: the deletion decides
        if replica is not None and replica.status != ReadReplicaStatus.ERROR:
            _set(session, replica, ReadReplicaStatus.ERROR, message)
        new_id = ctx.params.get("new_instance_id")
        new = load_instance(session, str(new_id)) if new_id else None
        if new is not None and new.status != InstanceStatus.ERROR:
            set_status(session, new, InstanceStatus.ERROR, message)
        session.commit()
