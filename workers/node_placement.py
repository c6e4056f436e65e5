"""Swarm mode: a host for each node row made without one, kept for the node's life (its volume
is there). The decision is controlplane/domain/placement.py's; here its inputs are read (the
swarm's hosts, the memory every placed node holds) and its answer written to the rows."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.catalog import find_node_type, load_catalog
from controlplane.db.models import Instance, Node
from controlplane.domain import placement
from controlplane.domain.failures import PermanentError
from controlplane.services import capacity
from controlplane.settings import get_settings
from workers import swarm_hosts


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
    """Nothing in single-host mode. Under the admission lock (two jobs placing at once see each
    other's nodes); an instance that fits nowhere fails with ``out_of_stock``'s reason."""
    manager = get_settings().swarm_manager
    if not manager or all(n.host is not None for n in instance.nodes):
        return
    capacity.lock(session)
    memory = node_memory(instance.node_type)
    hosts = swarm_hosts.for_placement(swarm_hosts.hosts(manager), memory_used(session))
    wanted = [placement.Node(n.name, n.role, memory, n.host) for n in instance.nodes]  # type: ignore[arg-type]
    result = placement.place(hosts, wanted)
    if isinstance(result, placement.Refused):
        raise PermanentError(f"{result.reason}: {result.message}")
    for node in instance.nodes:
        node.host = result.hosts[node.name]
    session.flush()
