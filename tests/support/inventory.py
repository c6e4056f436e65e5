"""What Docker and the host hold, compared with what the metadata store says should exist.

An orphan is anything of ours that no row accounts for: a container, network, named volume,
loop volume or proxy socket directory of an instance that is gone (or of a node that is not in
its rows), a host port allocation without an endpoint, an operation left running or pending.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import docker
from sqlalchemy import select

from controlplane.db.models import Endpoint, Instance, Operation, PortAllocation
from controlplane.db.session import session_factory
from workers import naming, proxies, volumes


@dataclass
class Orphans:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    loop_volumes: list[str] = field(default_factory=list)
    proxy_dirs: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    open_operations: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def expected() -> tuple[set[str], set[str], set[int]]:
    """(container names, volume names, allocated ports that endpoints justify) from the rows."""
    containers: set[str] = set()
    volume_names: set[str] = set()
    with session_factory()() as session:
        for instance in session.scalars(select(Instance)):
            nodes = [n.name for n in instance.nodes]
            containers |= {naming.node_container(instance.id, n) for n in nodes}
            volume_names |= {naming.volume(instance.id, n) for n in nodes}
            containers.add(naming.lb_container(instance.id))
            containers |= {naming.endpoint_container(instance.id, r.node_name)
                           for r in instance.read_replicas}  # fmt: skip
        endpoint_ports = set(session.scalars(select(Endpoint.port)))
        allocated = set(session.scalars(select(PortAllocation.port)))
    return containers, volume_names, allocated - endpoint_ports


def orphans(client: docker.DockerClient, include_operations: bool = True) -> Orphans:
    owner = {"label": [f"dbaas.owner={naming.prefix()}"]}
    containers, volume_names, unjustified_ports = expected()
    with session_factory()() as session:
        instance_ids = set(session.scalars(select(Instance.id)))
        open_ops = [
            f"{op.kind} {op.resource_id} {op.status}"
            for op in session.scalars(
                select(Operation).where(Operation.status.in_(("pending", "running")))
            )
        ]
    found = Orphans()
    for container in client.containers.list(all=True, filters=owner, ignore_removed=True):
        if container.name not in containers:
            found.containers.append(container.name)
    for network in client.networks.list(filters=owner):
        instance = network.attrs["Labels"].get("dbaas.instance")
        if instance is not None and instance not in instance_ids:
            found.networks.append(network.name)
    for volume in client.volumes.list(filters=owner):
        if volume.name not in volume_names:
            found.volumes.append(volume.name)
    found.loop_volumes = [n for n in volumes.existing_names() if n not in volume_names]
    proxy_root = proxies.admin_dir("x").parent
    wanted_dirs = {proxies.admin_dir(c).name for c in containers}
    if proxy_root.exists():
        found.proxy_dirs = [d for d in os.listdir(proxy_root) if d not in wanted_dirs]
    found.ports = sorted(unjustified_ports)
    if include_operations:
        found.open_operations = open_ops
    return found
