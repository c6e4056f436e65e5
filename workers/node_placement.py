"""Swarm mode: a host for each node row made without one, kept for the node's life (its volume
is there). The decision is controlplane/domain/placement.py's; here its inputs are read (the
swarm's hosts, the memory every placed node holds) and its answer written to the rows."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane import certificates
from controlplane.catalog import find_node_type, load_catalog
from controlplane.db.models import Instance, Node
from controlplane.domain import placement
from controlplane.domain.failures import PermanentError
from controlplane.services import capacity, instances, ports
from controlplane.settings import get_settings
from workers import docker_driver, swarm_hosts


def node_memory(node_type_name: str) -> int:
    node_type = find_node_type(load_catalog(), node_type_name)
    if node_type is None:
        raise PermanentError(f"node type {node_type_name} left the catalog")
    return node_type.memory


def memory_used(session: Session) -> dict[str, int]:
    """Host -> the memory of the nodes placed there, every instance's."""
    used: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(Node.host, Instance.node_type)
        .join(Instance, Instance.id == Node.instance_id)
        .where(Node.host.is_not(None))
    )
    for host, node_type in rows:
        used[str(host)] += node_memory(node_type)
    return dict(used)


def place_new_nodes(session: Session, instance: Instance) -> None:
    """Nothing in single-host mode. Each node gets a host and the port the control plane
    reaches it on there, the instance a host for its load balancer. Under the admission lock
    (two jobs placing at once see each other's nodes); an instance that fits nowhere fails
    with ``out_of_stock``'s reason."""
    settings = get_settings()
    if not settings.swarm_manager:
        return
    unplaced = [n for n in instance.nodes if n.host is None or n.admin_port is None]
    if not unplaced and instance.load_balancer_host is not None:
        return
    capacity.lock(session)
    memory = node_memory(instance.node_type)
    hosts = swarm_hosts.for_placement(
        swarm_hosts.hosts(settings.swarm_manager), memory_used(session)
    )
    wanted = [placement.Node(n.name, n.role, memory, n.host) for n in instance.nodes]  # type: ignore[arg-type]
    result = placement.place(hosts, wanted)
    if isinstance(result, placement.Refused):
        raise PermanentError(f"{result.reason}: {result.message}")
    taken = docker_driver.published_host_ports()
    for node in instance.nodes:
        node.host = result.hosts[node.name]
        node.admin_port = ports.allocate(
            session, instance.id, f"admin:{node.name}", settings.admin_port_min,
            settings.admin_port_max, address=None, taken=taken,
        )  # fmt: skip
    if instance.load_balancer_host is None:
        primary = next(n.name for n in instance.nodes if n.role == "primary")
        has_standby = any(n.role == "standby" for n in instance.nodes)
        instance.load_balancer_host = placement.balancer_host(
            hosts, result.hosts, primary, has_standby
        )
    cover_endpoint_addresses(instance)
    session.flush()


def cover_endpoint_addresses(instance: Instance) -> None:
    """The instance's certificate names the addresses of its endpoints (swarm mode: their
    hosts', the load balancer's before its endpoint row exists), so that clients verifying the
    server's name accept it: issued anew when it does not. Nothing in single-host mode."""
    if instance.load_balancer_host is None:
        return
    addresses = {docker_driver.host_address(instance.load_balancer_host)}
    addresses |= {e.ip for e in instance.endpoints}
    if not certificates.covers(instance.tls_cert, sorted(addresses)):
        instances.issue_certificate(instance, tuple(sorted(addresses)))
