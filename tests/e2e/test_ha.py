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
from dataclasses import dataclass, field

import docker
import pytest
from scaleway import WaitForOptions
from scaleway.rdb.v1 import InstanceStatus, RdbV1API

from tests.e2e.clients import CLIENTS, EngineClient

WAIT = WaitForOptions(timeout=300, min_delay=1, max_delay=2)
PASSWORD = "H1gh-Avail!pw"
pytestmark = pytest.mark.docker


@dataclass
class WriteLoop:
    """Inserts increasing ids through the endpoint; remembers each acknowledged commit."""

    client: EngineClient
    host: str
    port: int
    acknowledged: list[int] = field(default_factory=list)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        next_id = 0
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.client.connect(
                        self.host, self.port, "ha_admin", PASSWORD, timeout=2
                    )
                next_id += 1
                self.client.insert_committed(conn, next_id)
                self.acknowledged.append(next_id)  # only after the commit returned
            except Exception:
                self.failures += 1
                conn = self.client.close_quietly(conn)
                time.sleep(0.05)
        self.client.close_quietly(conn)

    def wait_for_progress(self, after: int, timeout: float) -> float:
        """Seconds until a commit after ``after`` acknowledged rows succeeds."""
        start = time.monotonic()
        while len(self.acknowledged) <= after:
            assert time.monotonic() - start < timeout, "writes never resumed"
            time.sleep(0.02)
        return time.monotonic() - start


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def ha_instance(
    request: pytest.FixtureRequest, rdb: RdbV1API
) -> Iterator[tuple[str, EngineClient]]:
    engine = CLIENTS[request.param].engine
    created = rdb.create_instance(
        engine=engine,
        user_name="ha_admin",
        password=PASSWORD,
        node_type="db-dev-s",
        is_ha_cluster=True,
        disable_backup=True,
        volume_size=0,
        backup_same_region=False,
        name=f"ha-{request.param}",
    )
    ready = rdb.wait_for_instance(instance_id=created.id, options=WAIT)
    assert ready.status == InstanceStatus.READY and ready.is_ha_cluster
    yield created.id, CLIENTS[request.param]
    rdb.wait_for_instance(instance_id=created.id, options=WAIT)  # a rebuild may still run
    rdb.delete_instance(instance_id=created.id)


def _wait_ha_again(rdb: RdbV1API, instance_id: str, timeout: float = 180) -> None:
    from controlplane.db.models import Instance
    from controlplane.db.session import session_factory

    deadline = time.monotonic() + timeout
    while True:
        with session_factory()() as session:
            row = session.get(Instance, instance_id)
            assert row is not None
            if row.status == "ready" and row.sync_mode == "sync":
                return
        assert time.monotonic() < deadline, "the instance never became HA again"
        time.sleep(0.5)


def _main_container(docker_client: docker.DockerClient, instance_id: str) -> str:
    from sqlalchemy import select

    from controlplane.db.models import Node
    from controlplane.db.session import session_factory

    with session_factory()() as session:
        node = session.scalar(
            select(Node).where(Node.instance_id == instance_id, Node.role == "primary")
        )
        assert node is not None
        return f"dbaast-{instance_id}-{node.name}"


def test_failover_loses_no_acknowledged_commit(
    rdb: RdbV1API, docker_client: docker.DockerClient, ha_instance: tuple[str, EngineClient]
) -> None:
    instance_id, client = ha_instance
    endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
    with closing(client.connect(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)) as conn:
        client.create_probe_table(conn)

    for round_ in range(3):  # several failovers in a row, the old main coming back each time
        _wait_ha_again(rdb, instance_id)
        main = _main_container(docker_client, instance_id)
        loop = WriteLoop(client, endpoint.ip, endpoint.port)
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
        assert _main_container(docker_client, instance_id) != main
        client.truncate_probe(endpoint.ip, endpoint.port, "ha_admin", PASSWORD)
