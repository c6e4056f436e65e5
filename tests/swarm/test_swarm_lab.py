"""Several Docker hosts (issue 19): the swarm lab and images by recipe hash.

The lab is the group's (conftest.py). Everything is checked through each host's own daemon or
over the lab network, not through the manager's view alone.
"""

from __future__ import annotations

import docker
import pytest

from deploy import swarm_lab
from tests.swarm.conftest import IMAGES
from workers import image_sync

pytestmark = [pytest.mark.docker, pytest.mark.swarm]


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
