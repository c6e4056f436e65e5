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
from controlplane.domain.failures import HostUnreachable

ZONE_LABEL = "dbaas.zone"
DOCKER_LABEL = "dbaas.docker"
MEMORY_LABEL = "dbaas.memory"
# The Docker API version spoken to swarm hosts (Docker 20.10 and later): fixed, so that making a
# client never asks a daemon, which may be the one that is down.
API_VERSION = "1.41"


def daemon_client(url: str, timeout: int = 120) -> docker.DockerClient:
    return docker.DockerClient(base_url=url, timeout=timeout, version=API_VERSION)


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


def manager_urls(setting: str) -> list[str]:
    """DBAAS_SWARM_MANAGER: one manager's Docker URL or several, comma-separated (asked in
    turn: with several managers the swarm outlives any one host, and so must we)."""
    return [url.strip() for url in setting.split(",") if url.strip()]


# The manager that answered last is asked first: one on a lost host costs a timeout only once.
_answered_last: list[str] = []


def hosts(managers: str, timeout: int = 5) -> list[SwarmHost]:
    """Every node of the swarm, by name, from the first manager that answers within
    ``timeout`` (a manager cut off, or one whose swarm is electing a leader, does not; none
    answering: ``HostUnreachable``)."""
    errors = []
    urls = manager_urls(managers)
    for url in sorted(urls, key=lambda u: u not in _answered_last):
        try:
            client = daemon_client(url, timeout=timeout)
            try:
                nodes = client.nodes.list()
            finally:
                client.close()
        except (docker.errors.DockerException, requests.RequestException) as exc:
            errors.append(f"{url}: {exc}")
            continue
        _answered_last[:] = [url]
        return sorted((describe(n.attrs) for n in nodes), key=lambda h: h.name)
    raise HostUnreachable(f"no swarm manager answered: {'; '.join(errors) or 'none set'}")


def set_availability(managers: str, host: str, availability: str) -> None:
    """``drain``: the swarm (and our placement) puts nothing new there; ``active``: again."""
    found = next((h for h in hosts(managers) if h.name == host), None)
    if found is None:
        raise ValueError(f"no host {host} in the swarm")
    for url in manager_urls(managers):
        client = daemon_client(url, timeout=10)
        try:
            node = client.nodes.get(found.node_id)
            node.update({**node.attrs["Spec"], "Availability": availability})
            return
        except (docker.errors.DockerException, requests.RequestException):
            continue
        finally:
            client.close()
    raise HostUnreachable("no swarm manager answered")
