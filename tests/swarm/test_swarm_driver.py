"""The Docker seam in swarm mode (issue 19): containers made on the host their spec names,
found there by name from any process, joined across hosts by the instance's overlay network,
removed from every host; node rows placed on the swarm's hosts. Checked through each host's
own daemon, not through the driver that made them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.db.models import Instance, Node, Organization, Project
from deploy import swarm_lab
from tests.support.stores import fresh_sqlite, migrated
from tests.swarm.conftest import IMAGES
from workers import docker_driver, image_sync, naming, node_placement, swarm_hosts

pytestmark = [pytest.mark.docker, pytest.mark.swarm]
PREFIX = os.environ.get("DBAAS_TEST_PREFIX", "dbaast")
# a throwaway server: trust is fine in a lab container that lives for seconds
SERVER = [
    "sh",
    "-c",
    "initdb -D /tmp/pg -U postgres -A trust >/dev/null"
    " && echo 'host all all 0.0.0.0/0 trust' >> /tmp/pg/pg_hba.conf"
    " && exec postgres -D /tmp/pg -c listen_addresses=*",
]


def test_hosts_as_the_manager_describes_them(lab: swarm_lab.Lab) -> None:
    hosts = swarm_hosts.hosts(lab.manager_socket)
    assert [(h.name, h.address, h.zone, h.docker_url) for h in hosts] == [
        (h.name, h.address, h.zone, h.socket) for h in lab.hosts
    ]
    assert all(h.ready and not h.drained and h.usable for h in hosts)
    manager = lab.client("h1")
    node = manager.nodes.get(hosts[2].node_id)
    spec = node.attrs["Spec"]
    try:
        node.update({**spec, "Availability": "drain"})
        drained = {h.name: h.drained for h in swarm_hosts.hosts(lab.manager_socket)}
        assert drained == {"h1": False, "h2": False, "h3": True}
    finally:
        node.reload()
        node.update({**node.attrs["Spec"], "Availability": "active"})
    assert not any(h.drained for h in swarm_hosts.hosts(lab.manager_socket))


@pytest.fixture
def instance_id(swarm_mode: str) -> Iterator[str]:
    """An instance's worth of resources, removed from every host afterwards."""
    made = f"swarm{uuid.uuid4().hex[:8]}"
    try:
        yield made
    finally:
        docker_driver.remove_instance_resources(made)


def _spec(instance: str, node: str, host: str) -> docker_driver.ContainerSpec:
    return docker_driver.ContainerSpec(
        name=naming.node_container(instance, node),
        image=IMAGES[0],
        command=SERVER,
        labels=naming.labels(instance, node=node),
        network=naming.network(instance),
        aliases=[node],
        host=host,
    )


def test_containers_run_where_placed_and_meet_across_hosts(
    lab: swarm_lab.Lab, synced: list[image_sync.Copy], instance_id: str
) -> None:
    network = naming.network(instance_id)
    docker_driver.ensure_network(network, naming.labels(instance_id), internal=True)
    made = lab.client("h1").networks.get(network)
    assert (made.attrs["Driver"], made.attrs["Attachable"], made.attrs["Internal"]) == (
        "overlay",
        True,
        True,
    )
    where = {"n1": "h2", "n2": "h3"}
    for node, host in where.items():
        docker_driver.ensure_container(_spec(instance_id, node, host))
    for node, host in where.items():
        name = naming.node_container(instance_id, node)
        for other in lab.hosts:  # on its host's daemon, and there only
            present = [c.name for c in lab.client(other.name).containers.list(all=True)]
            assert (name in present) == (other.name == host), (name, other.name)
    docker_driver.forget_hosts()  # another process: finds them by asking the hosts
    first = naming.node_container(instance_id, "n1")
    assert docker_driver.container_state(first) == "running"
    address = docker_driver.container_ip(first, network)
    assert address is not None and address.startswith("10.220.")
    # n2 (on h3) reaches n1 (on h2) by its alias over the overlay; the exec goes to h3's daemon
    query = ["sh", "-c", "for i in $(seq 60); do psql -h n1 -U postgres -Atc 'select 1' && "
             "exit 0; sleep 0.5; done; exit 1"]  # fmt: skip
    output = b"".join(docker_driver.exec_stream(naming.node_container(instance_id, "n2"), query))
    assert output.strip().splitlines()[-1] == b"1"
    removed = docker_driver.remove_instance_resources(instance_id)
    assert sorted(removed) == sorted(naming.node_container(instance_id, n) for n in where)
    for lab_host in lab.hosts:
        assert lab.client(lab_host.name).containers.list(all=True, filters=naming.instance_filter(
            instance_id)) == []  # fmt: skip
    assert lab.client("h1").networks.list(names=[network]) == []
    assert docker_driver.find_container(first) is None


def _instance(ha: bool) -> Instance:
    row = Instance(
        organization_id="o",
        project_id="p",
        region="fr-par",
        name="placed",
        engine="PostgreSQL-15",
        node_type="db-dev-s",
        status="provisioning",
        volume_type="lssd",
        volume_size=5_000_000_000,
        is_ha_cluster=ha,
        superuser_secret="x",
        replication_secret="y",
    )
    row.nodes.append(Node(name="n1", role="primary"))
    if ha:
        row.nodes.append(Node(name="n2", role="standby"))
    return row


def test_node_rows_are_placed_on_the_swarm_hosts(
    lab: swarm_lab.Lab, swarm_mode: str, tmp_path: Path
) -> None:
    sessions = migrated(fresh_sqlite(tmp_path))
    with sessions() as session:
        session.add(Organization(id="o", name="o"))
        session.flush()
        session.add(Project(id="p", organization_id="o", name="p"))
        session.flush()
        rows = [_instance(ha=True) for _ in range(3)]
        session.add_all(rows)
        session.flush()
        for row in rows:
            node_placement.place_new_nodes(session, row)
            session.commit()
        zones = {h.name: h.zone for h in lab.hosts}
        for row in rows:
            hosts = {n.name: n.host for n in row.nodes}
            assert hosts["n1"] != hosts["n2"]
            assert zones[hosts["n1"] or ""] != zones[hosts["n2"] or ""]
        # spread: three HA pairs over three hosts, two nodes on each
        placed = [n.host or "" for row in rows for n in row.nodes]
        assert sorted(placed) == ["h1", "h1", "h2", "h2", "h3", "h3"]
        before = {n.id: n.host for row in rows for n in row.nodes}
        node_placement.place_new_nodes(session, rows[0])  # placed nodes stay where they are
        assert {n.id: n.host for row in rows for n in row.nodes} == before
