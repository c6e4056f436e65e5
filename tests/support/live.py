"""Instances made through the SDK with a probe table, and a client writing to them meanwhile:
what the fault and upgrade tests share."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

from scaleway.rdb.v1 import RdbV1API

from controlplane.db.models import Instance
from controlplane.db.session import session_factory
from tests.e2e.clients import EngineClient
from tests.support.instances import wait
from tests.support.writeloop import WriteLoop

USER, PASSWORD = "faulty", "Fault-Passw0rd!"


@dataclass(frozen=True)
class Live:
    instance_id: str
    port: int
    client: EngineClient


def create(rdb: RdbV1API, client: EngineClient, name: str, ha: bool, **extra: object) -> Live:
    options: dict[str, object] = {"volume_size": 0, "node_type": "db-dev-s", **extra}
    created = rdb.create_instance(
        engine=client.engine, user_name=USER, password=PASSWORD, is_ha_cluster=ha,
        disable_backup=True, backup_same_region=False, name=name, **options,
    )  # fmt: skip
    ready = rdb.wait_for_instance(instance_id=created.id, options=wait())
    assert ready.status == "ready", ready
    live = Live(created.id, ready.endpoints[0].port, client)
    with closing(client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
        client.create_probe_table(conn)
    return live


def delete(rdb: RdbV1API, instance_id: str) -> None:
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    rdb.delete_instance(instance_id=instance_id)
    deadline = time.monotonic() + 120
    while exists(instance_id):
        assert time.monotonic() < deadline, "the instance was never deleted"
        time.sleep(0.5)


def exists(instance_id: str) -> bool:
    with session_factory()() as session:
        return session.get(Instance, instance_id) is not None


# Read right after a failover, the endpoint may refuse a new connection for a moment while the
# instance heals (the loaded CI host showed one); what is checked is the data, so connecting is
# retried (the write loop reconnects the same way).
IDS_CONNECT_SECONDS = 30


def ids(live: Live) -> set[int]:
    deadline = time.monotonic() + IDS_CONNECT_SECONDS
    while True:
        try:
            conn = live.client.connect("127.0.0.1", live.port, USER, PASSWORD, timeout=10)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with closing(conn):
        return set(live.client.probe_ids(conn))


@contextmanager
def writing(live: Live) -> Iterator[WriteLoop]:
    """A client writing through the endpoint for the duration; afterwards, every acknowledged
    commit must be in the table."""
    first = 1 + max(ids(live), default=0)
    loop = WriteLoop(live.client, "127.0.0.1", live.port, USER, PASSWORD, first_id=first)
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    loop.wait_for_progress(after=10, timeout=60)
    try:
        yield loop
    finally:
        loop.stop.set()
        writer.join(30)
    missing = set(loop.acknowledged) - ids(live)
    assert not missing, f"{len(missing)} acknowledged commits lost"
