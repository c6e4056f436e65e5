"""Read replicas through the SDK: they follow the main node (also across an HA failover),
refuse writes, can be reset and promoted, and go away with their instance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import docker
import httpx
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import (
    InstanceStatus,
    RdbV1API,
    ReadReplicaEndpointSpec,
    ReadReplicaEndpointSpecDirectAccess,
    ReadReplicaStatus,
)

from tests.e2e.clients import CLIENTS, EngineClient
from tests.e2e.conftest import instance_resources
from tests.support.ha import primary_container, wait_ha_again
from tests.support.instances import ready_instance, wait
from tests.support.tenants import Tenant

USER, PASSWORD = "rr_admin", "Repl1ca-Pass!"
pytestmark = pytest.mark.docker


def _connect(client: EngineClient, endpoint: Any) -> Any:
    return client.connect(endpoint.ip, endpoint.port, USER, PASSWORD)


def _eventually_has(client: EngineClient, endpoint: Any, row_id: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with closing(_connect(client, endpoint)) as conn:
                if row_id in client.probe_ids(conn):
                    return
        except Exception:  # the replica may be restarting
            pass
        assert time.monotonic() < deadline, f"row {row_id} never reached the replica"
        time.sleep(0.2)


def _write(client: EngineClient, endpoint: Any, row_id: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with closing(_connect(client, endpoint)) as conn:
                client.insert_committed(conn, row_id)
                return
        except Exception:
            assert time.monotonic() < deadline, "the main node never accepted the write"
            time.sleep(0.2)


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def ha_with_replica(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, EngineClient]]:
    client = CLIENTS[request.param]
    with ready_instance(
        rdb,
        docker_client,
        engine=client.engine,
        user=USER,
        password=PASSWORD,
        name=f"rr-{request.param}",
        ha=True,
    ) as instance_id:
        yield instance_id, client


def _lag_is_reported(api_url: str, tenant: Tenant, instance_id: str, replica_id: str) -> None:
    """Replication lag is in the instance metrics (raw HTTP: the Python SDK cannot parse them):
    the sampler records each observation the periodic reconcile makes."""
    url = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}/metrics"
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(url, params={"metric_name": "replication_lag_bytes"},
                             headers=tenant.headers)  # fmt: skip
        series = response.raise_for_status().json()["timeseries"]
        lag = [s for s in series if s["metadata"].get("read_replica_id") == replica_id]
        if lag and lag[0]["metadata"]["streaming"] == "true":
            assert lag[0]["name"] == "replication_lag_bytes"
            timestamp, value = lag[0]["points"][-1]
            assert timestamp.endswith("Z") and value >= 0
            return
        assert time.monotonic() < deadline, f"no replication lag reported: {series}"
        time.sleep(1)


def test_replica_follows_refuses_writes_survives_failover_resets_and_promotes(
    rdb: RdbV1API,
    docker_client: docker.DockerClient,
    ha_with_replica: tuple[str, EngineClient],
    api_url: str,
    tenant: Tenant,
) -> None:
    instance_id, client = ha_with_replica
    main = rdb.get_instance(instance_id=instance_id).endpoints[0]
    with closing(_connect(client, main)) as conn:
        client.create_probe_table(conn)
        client.insert_committed(conn, 1)

    replica = rdb.create_read_replica(
        instance_id=instance_id,
        endpoint_spec=[
            ReadReplicaEndpointSpec(direct_access=ReadReplicaEndpointSpecDirectAccess())
        ],
    )
    assert replica.status == ReadReplicaStatus.PROVISIONING
    replica = rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
    assert replica.status == ReadReplicaStatus.READY
    (endpoint,) = replica.endpoints
    assert endpoint.direct_access is not None and endpoint.port != main.port
    listed = rdb.get_instance(instance_id=instance_id).read_replicas
    assert [r.id for r in listed] == [replica.id]

    _eventually_has(client, endpoint, 1)
    _lag_is_reported(api_url, tenant, instance_id, replica.id)
    with closing(_connect(client, endpoint)) as conn, pytest.raises(Exception) as refused:
        client.insert_committed(conn, 2)
    assert "read-only" in str(refused.value).lower() or "read_only" in str(refused.value).lower()

    # HA failover of the main instance: the replica follows the new main node.
    wait_ha_again(instance_id)
    docker_client.containers.get(primary_container(instance_id)).kill()
    _write(client, main, 3)
    _eventually_has(client, endpoint, 3, timeout=60)

    # A reset while the instance rebuilds its standby is refused (transient_state), as a
    # client would, wait for the instance first.
    wait_ha_again(instance_id)
    replica = rdb.reset_read_replica(read_replica_id=replica.id)
    assert replica.status == ReadReplicaStatus.INITIALIZING
    replica = rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
    assert replica.status == ReadReplicaStatus.READY
    _write(client, main, 4)
    _eventually_has(client, replica.endpoints[0], 4)

    promoted = rdb.promote_read_replica(read_replica_id=replica.id)
    assert promoted.id != instance_id and promoted.name.startswith("promoted - ")
    promoted = rdb.wait_for_instance(instance_id=promoted.id, options=wait())
    assert promoted.status == InstanceStatus.READY
    new_main = promoted.endpoints[0]
    with closing(_connect(client, new_main)) as conn:
        assert {1, 3, 4} <= client.probe_ids(conn)
        client.insert_committed(conn, 5)  # an independent instance: it accepts writes
    with closing(_connect(client, main)) as conn:
        assert 5 not in client.probe_ids(conn)
    with pytest.raises(ScalewayException) as gone:
        rdb.get_read_replica(read_replica_id=replica.id)
    assert gone.value.status_code == 404
    assert rdb.get_instance(instance_id=instance_id).read_replicas == []

    rdb.delete_instance(instance_id=promoted.id)
    with pytest.raises(ScalewayException):
        rdb.wait_for_instance(instance_id=promoted.id, options=wait())


def test_deleting_an_instance_deletes_its_replicas(
    rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    client = CLIENTS["postgresql"]
    created = rdb.create_instance(
        engine=client.engine,
        user_name=USER,
        password=PASSWORD,
        node_type="db-dev-s",
        is_ha_cluster=False,
        disable_backup=True,
        volume_size=0,
        backup_same_region=False,
        name="rr-delete",
    )
    rdb.wait_for_instance(instance_id=created.id, options=wait())
    replica = rdb.create_read_replica(instance_id=created.id)  # default: one direct access
    replica = rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
    assert [e.direct_access is not None for e in replica.endpoints] == [True]
    rdb.delete_instance(instance_id=created.id)
    with pytest.raises(ScalewayException):
        rdb.wait_for_instance(instance_id=created.id, options=wait())
    with pytest.raises(ScalewayException) as gone:
        rdb.get_read_replica(read_replica_id=replica.id)
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, created.id) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }
