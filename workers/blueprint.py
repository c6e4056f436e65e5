"""Everything a job needs to act on an instance, read once from the metadata store and catalog."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from agents.base import (
    SUPERUSER,
    Connection,
    EngineAgent,
    FileSpec,
    NodeRuntime,
    Role,
    ServerSetting,
)
from agents.registry import agent_for
from controlplane import secrets
from controlplane.catalog import find_engine_version, find_node_type, load_catalog
from controlplane.catalog.model import EngineVersion, NodeType
from controlplane.db.models import Instance
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.settings import get_settings
from workers import docker_driver, naming, proxies, topology


@dataclass(frozen=True)
class Blueprint:
    instance_id: str
    version: EngineVersion
    image: str  # the pinned build (an image id), or the version's tag before pinning
    node_type: NodeType
    agent: EngineAgent
    runtime: NodeRuntime
    volume_type: str
    volume_size: int
    superuser_password: str
    replication_password: str
    settings: list[tuple[str, str]]  # the user-visible settings (defaults + chosen)
    server_settings: list[ServerSetting]  # what the engine is configured with
    init_options: dict[str, str]
    admin_user: str | None
    is_ha: bool
    roles: dict[str, Role]  # node name -> role, from the node rows
    hosts: dict[str, str | None]  # node name -> its swarm host (None: the local engine)
    # Swarm mode: node name -> (its host's address, the port published there for us alone)
    reach: dict[str, tuple[str, int]]
    lb_host: str | None  # swarm mode: the load balancer's host
    published: dict[str, int]  # node name -> host port of its direct-access endpoint
    tls_cert: str
    tls_key: str
    acl: tuple[str, ...]  # networks the endpoints admit (the instance's ACL rules)

    @property
    def primary(self) -> str:
        return next(name for name, role in self.roles.items() if role.kind == "primary")

    def standbys(self) -> list[str]:
        return sorted(name for name, role in self.roles.items() if role.kind == "standby")

    def replicas(self) -> list[str]:
        return sorted(name for name, role in self.roles.items() if role.kind == "replica")

    def container(self, node: str) -> str:
        return naming.node_container(self.instance_id, node)

    @property
    def memory_bytes(self) -> int:
        return topology.node_limits(self.node_type).mem_bytes

    def config_files(self, role: Role) -> dict[str, FileSpec]:
        """Everything we own on a node in ``role``: configuration and TLS material."""
        files = self.agent.config_files(
            self.version.version, self.server_settings, self.memory_bytes, role
        )
        return {**files, **self.agent.tls_files(self.version.version, self.tls_cert, self.tls_key)}


def load(instance: Instance, sync_mode: str | None = None) -> Blueprint:
    """``sync_mode`` overrides the row's, to render a state before recording it."""
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
        image=instance.image_id or version.image,
        node_type=node_type,
        agent=agent,
        runtime=agent.runtime(version.version),
        volume_type=instance.volume_type,
        volume_size=instance.volume_size,
        superuser_password=secrets.decrypt(instance.superuser_secret),
        replication_password=secrets.decrypt(instance.replication_secret),
        settings=settings,
        server_settings=topology.init_server_settings(version, instance.init_settings)
        + topology.server_settings(version, settings),
        init_options=topology.init_options(version, instance.init_settings),
        admin_user=instance.admin_user_name,
        is_ha=instance.is_ha_cluster,
        roles=topology.roles(
            [(n.name, n.role) for n in instance.nodes], sync_mode or instance.sync_mode
        ),
        hosts={n.name: n.host for n in instance.nodes},
        reach={
            n.name: (docker_driver.host_address(n.host), n.admin_port)
            for n in instance.nodes
            if n.host is not None and n.admin_port is not None
        },
        lb_host=instance.load_balancer_host,
        published=_published_ports(instance),
        tls_cert=instance.tls_cert,
        tls_key=secrets.decrypt(instance.tls_key_secret) if instance.tls_key_secret else "",
        acl=tuple(r.ip for r in instance.acl_rules),
    )


def _published_ports(instance: Instance) -> dict[str, int]:
    nodes_by_replica = {r.id: r.node_name for r in instance.read_replicas}
    return {
        nodes_by_replica[e.read_replica_id]: e.port
        for e in instance.endpoints
        if e.read_replica_id in nodes_by_replica and e.kind == "direct_access"
    }


def lb_servers(bp: Blueprint) -> dict[str, str]:
    """The nodes the load balancer may route to: the main node and its HA standbys."""
    return {node: bp.container(node) for node in [bp.primary, *bp.standbys()]}


def lb_proxy(bp: Blueprint, port: int) -> proxies.Proxy:
    """Published on the load balancer's host (swarm mode), else on the publish address."""
    host = bp.lb_host
    address = docker_driver.host_address(host) if host else get_settings().publish_address
    return proxies.Proxy(
        host=host,
        instance_id=bp.instance_id,
        container=naming.lb_container(bp.instance_id),
        servers=lb_servers(bp),
        active=bp.primary,
        engine_port=bp.runtime.port,
        published=(address, port),
        role="load_balancer",
        allow=bp.acl,
    )


def replica_proxies(bp: Blueprint) -> list[proxies.Proxy]:
    """The direct-access endpoints of read replicas, on the replica's host in swarm mode."""

    def address(host: str | None) -> str:
        return docker_driver.host_address(host) if host else get_settings().publish_address

    return [
        proxies.Proxy(
            host=bp.hosts.get(node),
            instance_id=bp.instance_id,
            container=naming.endpoint_container(bp.instance_id, node),
            servers={node: bp.container(node)},
            active=node,
            engine_port=bp.runtime.port,
            published=(address(bp.hosts.get(node)), port),
            role="direct_access",
            allow=bp.acl,  # ACL rules apply to replicas' direct access too
        )
        for node, port in sorted(bp.published.items())
    ]


def through_load_balancer(bp: Blueprint) -> Connection:
    """How the control plane checks the load balancer: from the host, on the instance network,
    where its source address is always admitted (users' ACL rules may exclude the host's
    address on the edge network, where the published port is). In swarm mode through its
    published port, from where the control plane is (admitted too: proxies._admitted)."""
    if bp.lb_host is not None:
        published = docker_driver.published_address(
            naming.lb_container(bp.instance_id), bp.runtime.port
        )
        if published is None:
            raise TemporaryError("the load balancer is not running")
        return Connection(*published, SUPERUSER, bp.superuser_password)
    address = docker_driver.container_ip(
        naming.lb_container(bp.instance_id), naming.network(bp.instance_id)
    )
    if address is None:
        raise TemporaryError("the load balancer is not running")
    return Connection(address, bp.runtime.port, SUPERUSER, bp.superuser_password)


def _routes(bp: Blueprint, node: str) -> tuple[tuple[str, str, int], ...]:
    """Swarm mode: the other nodes' addresses on the instance network (what an engine reports
    of its peers), each with where the control plane reaches it."""
    network = naming.network(bp.instance_id)
    routes = []
    for peer, reach in sorted(bp.reach.items()):
        if peer == node:
            continue
        with suppress(TemporaryError):  # (a host that does not answer: no route to its node)
            address = docker_driver.container_ip(bp.container(peer), network)
            if address is not None:
                routes.append((address, *reach))
    return tuple(routes)


def connection(bp: Blueprint, node: str) -> Connection:
    """The control plane reaches a node directly on its instance network (never published);
    in swarm mode at its host's address, on the port published there for the control plane."""
    if node in bp.reach:
        if docker_driver.container_state(bp.container(node)) != "running":
            raise TemporaryError(f"node {node} is not running")
        host_address, port = bp.reach[node]
        return Connection(
            host_address, port, SUPERUSER, bp.superuser_password, routes=_routes(bp, node)
        )
    address = docker_driver.container_ip(bp.container(node), naming.network(bp.instance_id))
    if address is None:
        raise TemporaryError(f"node {node} is not running")
    return Connection(address, bp.runtime.port, SUPERUSER, bp.superuser_password)
