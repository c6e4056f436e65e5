"""Instance lifecycle jobs: provision (converge), heal, delete. Each is idempotent.

Provisioning converges step by step; every step first looks at what exists (by deterministic
name), so a job redelivered after a worker died continues where the dead one stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from agents.base import Connection, EngineAgent, NodeRuntime, ServerSetting
from agents.registry import agent_for
from controlplane import secrets
from controlplane.catalog.loader import load_catalog
from controlplane.catalog.lookup import find_engine_version, find_node_type
from controlplane.catalog.model import EngineVersion, NodeType
from controlplane.db.models import Endpoint, Instance, Node
from controlplane.domain.failures import PermanentError
from controlplane.domain.states import InstanceStatus, check_instance_transition
from controlplane.services import ports
from controlplane.settings import get_settings
from workers import docker_driver, loadbalancer, naming, topology, volumes
from workers.runner import OperationContext

log = logging.getLogger(__name__)
PRIMARY = "n1"


@dataclass(frozen=True)
class Blueprint:
    """Everything a converge step needs, read once from the metadata store."""

    instance_id: str
    version: EngineVersion
    node_type: NodeType
    agent: EngineAgent
    runtime: NodeRuntime
    volume_type: str
    volume_size: int
    superuser_password: str
    settings: list[tuple[str, str]]
    init_options: dict[str, str]
    server_settings: list[ServerSetting]
    admin_user: str | None


def set_status(session: Session, instance: Instance, status: InstanceStatus, reason: str | None = None) -> None:
    check_instance_transition(instance.status, status)
    instance.status = status.value
    instance.status_reason = reason


def _load(session: Session, instance_id: str) -> Instance | None:
    return session.get(Instance, instance_id, populate_existing=True)


def _blueprint(instance: Instance) -> Blueprint:
    catalog = load_catalog()
    version = find_engine_version(catalog, instance.engine)
    node_type = find_node_type(catalog, instance.node_type)
    if version is None or node_type is None:
        raise PermanentError(f"{instance.engine} / {instance.node_type} left the catalog")
    agent = agent_for(version.family.value)
    settings = topology.effective_settings(version, node_type, instance.settings)
    return Blueprint(
        instance_id=instance.id,
        version=version,
        node_type=node_type,
        agent=agent,
        runtime=agent.runtime(version.version),
        volume_type=instance.volume_type,
        volume_size=instance.volume_size,
        superuser_password=secrets.decrypt(instance.superuser_secret),
        settings=settings,
        init_options=topology.init_options(version, instance.init_settings),
        server_settings=topology.init_server_settings(version, instance.init_settings)
        + topology.server_settings(version, settings),
        admin_user=instance.admin_user_name,
    )


def _ensure_node_row(session: Session, instance: Instance, name: str, role: str) -> Node:
    node = session.scalar(select(Node).where(Node.instance_id == instance.id, Node.name == name))
    if node is None:
        s = get_settings()
        port = ports.allocate(
            session, f"{instance.id}:{name}", "admin", s.admin_port_min, s.admin_port_max,
            s.publish_address,
        )
        node = Node(instance_id=instance.id, name=name, role=role, admin_port=port)
        session.add(node)
        session.flush()
    return node


def _volume_mount(bp: Blueprint, node: str) -> str:
    """Returns the mount source: a loop-mounted host directory or a named Docker volume."""
    name = naming.volume(bp.instance_id, node)
    if bp.volume_type != "lssd" and get_settings().loop_volumes:
        return str(volumes.ensure(name, bp.volume_size, bp.runtime.uid, bp.runtime.gid))
    docker_driver.ensure_named_volume(name, naming.labels(bp.instance_id, node=node))
    return name


def _node_spec(bp: Blueprint, node: Node, mount: str) -> docker_driver.ContainerSpec:
    limits = topology.node_limits(bp.node_type)
    s = get_settings()
    return docker_driver.ContainerSpec(
        name=naming.node_container(bp.instance_id, node.name),
        image=bp.version.image,
        command=bp.runtime.server_command,
        labels=naming.labels(bp.instance_id, node=node.name, role=node.role),
        network=naming.network(bp.instance_id),
        user=bp.runtime.user,
        mounts={mount: bp.runtime.data_mount},
        ports={f"{bp.runtime.port}/tcp": (s.publish_address, node.admin_port)},
        nano_cpus=limits.nano_cpus,
        mem_bytes=limits.mem_bytes,
        shm_bytes=min(limits.mem_bytes // 4, 256 * 1024 * 1024),
        stop_signal=bp.runtime.stop_signal,
        aliases=[node.name],
    )


def _connection(bp: Blueprint, node: Node) -> Connection:
    from agents.base import SUPERUSER

    return Connection(get_settings().publish_address, node.admin_port, SUPERUSER, bp.superuser_password)


def _ensure_primary_node(bp: Blueprint, node: Node) -> None:
    mount = _volume_mount(bp, node.name)
    spec = _node_spec(bp, node, mount)
    limits = topology.node_limits(bp.node_type)
    config = bp.agent.config_files(bp.version.version, bp.server_settings, limits.mem_bytes)
    container = docker_driver.find_container(spec.name)
    if container is None:
        init_spec = docker_driver.ContainerSpec(
            name=f"{spec.name}-init", image=spec.image, command=[], labels=spec.labels,
            network=spec.network, user=spec.user, mounts=spec.mounts, restart=False,
        )
        files = bp.agent.init_files(bp.version.version, bp.superuser_password, bp.init_options)
        code, output = docker_driver.run_once(init_spec, bp.runtime.init_command, files, bp.runtime.data_mount)
        if code != 0:
            raise PermanentError(f"engine initialisation failed: {output.strip()[-500:]}")
    docker_driver.ensure_container(spec, files=config, files_base=bp.runtime.data_mount)


def converge(ctx: OperationContext) -> None:
    sessions = ctx.sessions
    with sessions() as session:
        instance = _load(session, ctx.resource_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return  # deleted meanwhile: nothing to build
        bp = _blueprint(instance)
        node = _ensure_node_row(session, instance, PRIMARY, "primary")
        s = get_settings()
        lb_port = ports.allocate(
            session, instance.id, "load_balancer", s.endpoint_port_min, s.endpoint_port_max,
            s.publish_address,
        )
        session.commit()

    docker_driver.ensure_network(naming.network(bp.instance_id), naming.labels(bp.instance_id))
    _ensure_primary_node(bp, node)

    with sessions() as session:
        instance = _load(session, ctx.resource_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return
        if instance.status == InstanceStatus.PROVISIONING:
            set_status(session, instance, InstanceStatus.INITIALIZING)
            session.commit()

    conn = _connection(bp, node)
    bp.agent.wait_ready(conn, timeout=60)
    bp.agent.reload(conn, bp.server_settings)  # an existing node may run older settings
    bp.agent.ensure_database(conn)
    if bp.admin_user:
        verifier = ctx.params.get("admin_verifier")
        if isinstance(verifier, str) and verifier:
            bp.agent.ensure_admin(conn, bp.admin_user, secrets.decrypt(verifier), "rdb")
    loadbalancer.ensure(
        bp.instance_id, naming.node_container(bp.instance_id, node.name), bp.runtime.port,
        (s.publish_address, lb_port),
    )
    # Ready means reachable the way users reach it: through the load-balancer endpoint.
    bp.agent.wait_ready(replace(conn, port=lb_port), timeout=30)

    with sessions() as session:
        instance = _load(session, ctx.resource_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return
        _ensure_lb_endpoint(session, instance, lb_port)
        instance.settings = [{"name": n, "value": v} for n, v in bp.settings]
        set_status(session, instance, InstanceStatus.READY)
        session.commit()


def _ensure_lb_endpoint(session: Session, instance: Instance, port: int) -> None:
    if any(e.kind == "load_balancer" for e in instance.endpoints):
        return
    instance.endpoints.append(
        Endpoint(kind="load_balancer", ip=get_settings().advertise_address, port=port)
    )


# Provisioning and healing are the same converge; only the status the instance is in differs.
provision = heal = converge


def delete(ctx: OperationContext) -> None:
    instance_id = ctx.resource_id
    docker_driver.remove_instance_resources(instance_id)
    for name in volumes.existing_names():
        if name.startswith(f"{naming.prefix()}-{instance_id}-"):
            volumes.remove(name)
    with ctx.sessions() as session:
        instance = _load(session, instance_id)
        ports.release(session, instance_id)
        if instance is not None:
            session.delete(instance)
        session.commit()


def mark_error(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        instance = _load(session, ctx.resource_id)
        if instance is None:
            return
        if instance.status != InstanceStatus.ERROR:
            set_status(session, instance, InstanceStatus.ERROR, message)
        else:
            instance.status_reason = message
        session.commit()
