"""The Docker hosts of a swarm, as the control plane places nodes on them (issue 19).

Read from the swarm's manager: every node with its address, zone (label ``dbaas.zone``), the
URL of its own daemon (label ``dbaas.docker``: a task's containers, ``exec`` and file copies are
only there), its state and availability, and its memory (label ``dbaas.memory`` in bytes when
set: a host's real capacity may be less than what its kernel reports, e.g. several lab daemons on
one machine each see the whole machine). ``describe`` is the pure part; ``hosts`` asks the
manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import requests

from controlplane.domain import placement
from controlplane.domain.failures import TemporaryError

ZONE_LABEL = "dbaas.zone"
DOCKER_LABEL = "dbaas.docker"
MEMORY_LABEL = "dbaas.memory"


@dataclass(frozen=True)
class SwarmHost:
    name: str  # the node's hostname, what placement constraints name (node.hostname==)
    node_id: str
    address: str  # where its host-mode published ports are reached
    zone: str | None
    docker_url: str | None  # its own daemon; None: not labelled, unusable for nodes
    ready: bool  # the swarm sees it (a host cut off or stopped is "down")
    drained: bool  # availability drain or pause: no new node goes there
    memory_capacity: int

    @property
    def usable(self) -> bool:
        return self.ready and not self.drained and self.docker_url is not None


def describe(attrs: Mapping[str, Any]) -> SwarmHost:
    """A swarm node as ``docker node inspect`` shows it."""
    spec = attrs.get("Spec") or {}
    labels = spec.get("Labels") or {}
    description = attrs.get("Description") or {}
    status = attrs.get("Status") or {}
    reported = int((description.get("Resources") or {}).get("MemoryBytes") or 0)
    label_memory = str(labels.get(MEMORY_LABEL, "")).strip()
    return SwarmHost(
        name=str(description.get("Hostname") or attrs.get("ID")),
        node_id=str(attrs.get("ID")),
        address=str(status.get("Addr") or ""),
        zone=labels.get(ZONE_LABEL) or None,
        docker_url=labels.get(DOCKER_LABEL) or None,
        ready=status.get("State") == "ready",
        drained=spec.get("Availability", "active") != "active",
        memory_capacity=int(label_memory) if label_memory.isdigit() else reported,
    )


def for_placement(
    hosts: Iterable[SwarmHost], memory_used: Mapping[str, int]
) -> list[placement.Host]:
    """What placement decides from: usable hosts only (a host down or unlabelled takes none)."""
    return [
        placement.Host(
            name=h.name,
            zone=h.zone,
            memory_capacity=h.memory_capacity,
            memory_used=memory_used.get(h.name, 0),
            drained=h.drained,
        )
        for h in hosts
        if h.ready and h.docker_url is not None
    ]


def hosts(manager_url: str) -> list[SwarmHost]:
    """Every node of the swarm, by name. The manager unreachable: a temporary error."""
    try:
        client = docker.DockerClient(base_url=manager_url, timeout=10)
        try:
            nodes = client.nodes.list()
        finally:
            client.close()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise TemporaryError(f"the swarm manager {manager_url} did not answer: {exc}") from exc
    return sorted((describe(n.attrs) for n in nodes), key=lambda h: h.name)


def set_availability(manager_url: str, host: str, availability: str) -> None:
    """``drain``: the swarm (and our placement) puts nothing new there; ``active``: again."""
    client = docker.DockerClient(base_url=manager_url, timeout=10)
    try:
        found = [n for n in client.nodes.list() if describe(n.attrs).name == host]
        if not found:
            raise ValueError(f"no host {host} in the swarm")
        spec = found[0].attrs["Spec"]
        found[0].update({**spec, "Availability": availability})
    finally:
        client.close()
