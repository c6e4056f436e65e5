"""Several Docker hosts (issue 19): the swarm lab, images by recipe hash, placement for real.

The lab is the group's (conftest.py). Everything is checked through each host's own daemon or
over the lab network, not through the manager's view alone.
"""

from __future__ import annotations

import os
import time

import docker
import psycopg
import pytest
from docker.types import EndpointSpec

from controlplane.domain.placement import Host, Node, Placed, place
from deploy import swarm_lab
from tests.swarm.conftest import IMAGES
from workers import image_sync, swarm_hosts

pytestmark = [pytest.mark.docker, pytest.mark.swarm]
PREFIX = os.environ.get("DBAAS_TEST_PREFIX", "dbaast")
PG_PORT = 15432
NETWORK = f"{PREFIX}-lab-net"
# a throwaway server: trust is fine in a lab container that lives for seconds
PG_COMMAND = [
    "sh",
    "-c",
    "initdb -D /tmp/pg -U postgres -A trust >/dev/null"
    " && echo 'host all all 0.0.0.0/0 trust' >> /tmp/pg/pg_hba.conf"
    " && exec postgres -D /tmp/pg -c listen_addresses=*",
]


def test_three_nodes_ready_with_zones(lab: swarm_lab.Lab) -> None:
    manager = lab.client("h1")
    nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.nodes.list()}
    assert sorted(nodes) == ["h1", "h2", "h3"]
    for host in lab.hosts:
        attrs = nodes[host.name]
        assert attrs["Status"]["State"] == "ready"
        assert attrs["Status"]["Addr"] == host.address
        assert attrs["Spec"]["Labels"] == {"dbaas.zone": host.zone, "dbaas.docker": host.socket}
        # each host's own daemon, reached through the socket the label names
        assert docker.DockerClient(base_url=host.socket).info()["Swarm"]["ControlAvailable"]
    assert [h.zone for h in lab.hosts] == ["zone-a", "zone-b", "zone-c"]


def test_images_reach_every_host_once(lab: swarm_lab.Lab, synced: list[image_sync.Copy]) -> None:
    assert sorted((c.host, c.tag) for c in synced) == sorted(
        (h.name, tag) for h in lab.hosts for tag in IMAGES
    )
    source = docker.from_env()
    for tag in IMAGES:
        want = source.images.get(tag)
        for host in lab.hosts:
            got = lab.client(host.name).images.get(tag)
            assert got.id == want.id
            assert got.labels[image_sync.RECIPE_LABEL] == want.labels[image_sync.RECIPE_LABEL]
    hosts = {h.name: lab.client(h.name) for h in lab.hosts}
    assert image_sync.sync(source, hosts, IMAGES) == []


def _placement_hosts(lab: swarm_lab.Lab) -> list[Host]:
    return swarm_hosts.for_placement(swarm_hosts.hosts(lab.manager_socket), {})


def _wait_running(client: docker.DockerClient, service: str) -> docker.models.containers.Container:
    deadline = time.monotonic() + 60
    while True:
        found = client.containers.list(
            filters={"label": f"com.docker.swarm.service.name={service}"}
        )
        if found and found[0].status == "running":
            return found[0]
        assert time.monotonic() < deadline, f"{service} never ran on its host"
        time.sleep(0.5)


def _query(address: str, deadline: float) -> int:
    while True:
        try:
            with psycopg.connect(
                host=address, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=3
            ) as conn:
                row = conn.execute("select 1").fetchone()
                return int(row[0]) if row else 0
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_placed_services_run_apart_and_meet_across_hosts(
    lab: swarm_lab.Lab, synced: list[image_sync.Copy]
) -> None:
    nodes = [Node("n1", "primary", 256 << 20), Node("n2", "standby", 256 << 20)]
    placed = place(_placement_hosts(lab), nodes)
    assert isinstance(placed, Placed)
    assert placed.hosts["n1"] != placed.hosts["n2"]
    manager = lab.client("h1")
    manager.networks.create(NETWORK, driver="overlay", attachable=True)
    for node, host in placed.hosts.items():
        manager.services.create(
            IMAGES[0],
            command=PG_COMMAND,
            name=f"{PREFIX}-{node}",
            constraints=[f"node.hostname=={host}"],
            networks=[NETWORK],
            endpoint_spec=EndpointSpec(mode="dnsrr", ports={PG_PORT: (5432, "tcp", "host")}),
        )
    containers = {
        node: _wait_running(lab.client(host), f"{PREFIX}-{node}")
        for node, host in placed.hosts.items()
    }
    for node, host in placed.hosts.items():
        # not on the other host: its own daemon runs nothing of this service
        other = next(h for n, h in placed.hosts.items() if n != node)
        stray = lab.client(other).containers.list(
            filters={"label": f"com.docker.swarm.service.name={PREFIX}-{node}"}
        )
        assert stray == []
        address = next(h.address for h in lab.hosts if h.name == host)
        # from the root namespace, through the host-mode published port
        assert _query(address, time.monotonic() + 30) == 1
    # across hosts, by service name, over the overlay network
    for node, peer in (("n2", "n1"), ("n1", "n2")):
        result = containers[node].exec_run(
            ["psql", "-h", f"{PREFIX}-{peer}", "-U", "postgres", "-Atc", "select 1"]
        )
        assert result.exit_code == 0, result.output
        assert result.output.strip() == b"1"
