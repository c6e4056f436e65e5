"""High availability: the durability proof (no acknowledged commit lost across failovers).

A client writes through the load-balancer endpoint in a loop and records every acknowledged
commit; the main node's container is SIGKILLed; the loop goes on through the same endpoint until
writes succeed again; then every acknowledged row must be there. The old main node comes back as
the standby, the instance is HA again, and a second failover works the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing

import docker
import httpx
import pytest
from scaleway import WaitForOptions
from scaleway.rdb.v1 import RdbV1API

from tests.e2e.clients import CLIENTS, EngineClient
from tests.support.ha import node_container, primary_container, wait_ha_again
from tests.support.instances import ready_instance
from tests.support.tenants import Tenant
from tests.support.writeloop import WriteLoop

WAIT = WaitForOptions(timeout=300, min_delay=1, max_delay=2)
PASSWORD = "H1gh-Avail!pw"
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def ha_instance(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, EngineClient]]:
    client = CLIENTS[request.param]
    with ready_instance(
        rdb,
        docker_client,
        engine=client.engine,
        user="ha_admin",
        password=PASSWORD,
        name=f"ha-{request.param}",
        ha=True,
    ) as instance_id:
        yield instance_id, client


def test_standby_is_not_reachable_from_the_host(
    rdb: RdbV1API, docker_client: docker.DockerClient, ha_instance: tuple[str, EngineClient]
) -> None:
    instance_id, _ = ha_instance
    wait_ha_again(instance_id)
    standby = docker_client.containers.get(node_container(instance_id, "standby"))
    primary = docker_client.containers.get(primary_container(instance_id))
    for node in (standby, primary):  # nodes publish nothing: users only get the load balancer
        assert not node.attrs["HostConfig"]["PortBindings"], node.name
        assert not any(node.attrs["NetworkSettings"]["Ports"].values()), node.name
    endpoints = rdb.get_instance(instance_id=instance_id).endpoints
    assert [e.load_balancer is not None for e in endpoints] == [True]


def test_killing_the_standby_loses_nothing_and_it_is_rebuilt(
    rdb: RdbV1API, docker_client: docker.DockerClient, ha_instance: tuple[str, EngineClient]
) -> None:
    instance_id, client = ha_instance
    endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
    with closing(client.connect(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)) as conn:
        client.create_probe_table(conn)
    wait_ha_again(instance_id)
    standby = node_container(instance_id, "standby")
    loop = WriteLoop(client, endpoint.ip, endpoint.port, "ha_admin", PASSWORD)
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    loop.wait_for_progress(after=20, timeout=30)

    docker_client.containers.get(standby).kill()  # commits wait, then the main goes on alone
    before = len(loop.acknowledged)
    stall = loop.wait_for_progress(after=before + 20, timeout=60)
    print(f"standby killed: 20 more commits within {stall:.2f}s")
    wait_ha_again(instance_id)  # rebuilt from the main node, synchronous again
    loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=30)
    loop.stop.set()
    writer.join(10)

    # The rebuilt standby has everything: fail over to it and count.
    docker_client.containers.get(primary_container(instance_id)).kill()
    deadline = time.monotonic() + 60
    while True:
        try:
            with closing(client.connect(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)) as conn:
                present = client.probe_ids(conn)
            break
        except Exception:
            assert time.monotonic() < deadline, "no failover to the rebuilt standby"
            time.sleep(0.2)
    assert not set(loop.acknowledged) - present
    client.truncate_probe(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)


def test_failover_loses_no_acknowledged_commit(
    rdb: RdbV1API, docker_client: docker.DockerClient, ha_instance: tuple[str, EngineClient]
) -> None:
    instance_id, client = ha_instance
    endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]

    for round_ in range(3):  # several failovers in a row, the old main coming back each time
        wait_ha_again(instance_id)
        main = primary_container(instance_id)
        loop = WriteLoop(client, endpoint.ip, endpoint.port, "ha_admin", PASSWORD)
        writer = threading.Thread(target=loop.run, daemon=True)
        writer.start()
        loop.wait_for_progress(after=20, timeout=30)

        docker_client.containers.get(main).kill()  # SIGKILL the main node
        before = len(loop.acknowledged)
        outage = loop.wait_for_progress(after=before, timeout=60)
        loop.wait_for_progress(after=before + 20, timeout=30)
        loop.stop.set()
        writer.join(10)
        print(
            f"round {round_}: writes resumed {outage:.2f}s after the kill; "
            f"{len(loop.acknowledged)} acknowledged"
        )

        with closing(client.connect(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)) as conn:
            present = client.probe_ids(conn)
        missing = set(loop.acknowledged) - present
        assert not missing, f"acknowledged commits lost: {sorted(missing)[:20]}"
        assert primary_container(instance_id) != main
        client.truncate_probe(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)


def test_failovers_are_visible_to_the_user(
    api_url: str, tenant: Tenant, ha_instance: tuple[str, EngineClient]
) -> None:
    instance_id, _ = ha_instance
    wait_ha_again(instance_id)  # the last failover's operation has ended (its heal too)
    url = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}/operations"
    response = httpx.get(url, headers=tenant.headers).raise_for_status()
    assert "admin_verifier" not in response.text  # details meant for users only
    records = response.json()["operations"]
    failovers = [r for r in records if r["kind"] == "failover"]
    assert len(failovers) >= 4 and all(r["status"] == "succeeded" for r in failovers)
    assert {r["details"]["from"] for r in failovers} == {"n1", "n2"}
    assert all("promoting the standby" in r["details"]["reason"] for r in failovers)
    assert any(r["kind"] == "degrade" for r in records)  # the standby kill
    heals = [r for r in records if r["kind"] == "heal_instance" and r["status"] == "succeeded"]
    rebuilt = {r["details"]["from"] for r in failovers}  # each old main node was copied again
    timed = {step for r in heals for step in r["details"].get("steps", {})}
    for node in rebuilt:
        assert {f"{node} copied", f"{node} started", f"{node} streaming"} <= timed, timed
    assert "followers synchronous" in timed
    instance = httpx.get(url.removesuffix("/operations"), headers=tenant.headers).json()
    assert instance["is_ha_cluster"] and instance["high_availability_mode"] == "single_zone"
