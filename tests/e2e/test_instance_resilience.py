"""Provisioning survives a killed worker; a vanished node is noticed and healed, data intact."""

from __future__ import annotations

import os
import time

import docker
import psycopg
import pytest
from scaleway import ScalewayException, WaitForOptions
from scaleway.rdb.v1 import InstanceStatus, RdbV1API
from sqlalchemy import select

from controlplane.db.models import Operation
from controlplane.db.session import session_factory
from tests.e2e.conftest import instance_resources
from tests.support.processes import Worker

PREFIX = os.environ["DBAAS_RESOURCE_PREFIX"]

WAIT = WaitForOptions(timeout=300, min_delay=1, max_delay=3)
PASSWORD = "Resil1ent!pw"
pytestmark = pytest.mark.docker


def _create(rdb: RdbV1API, name: str) -> str:
    return rdb.create_instance(
        engine="PostgreSQL-15",
        user_name="owner",
        password=PASSWORD,
        node_type="db-dev-s",
        is_ha_cluster=False,
        disable_backup=True,
        volume_size=0,
        backup_same_region=False,
        name=name,
    ).id


def _provision_op_running(instance_id: str) -> bool:
    with session_factory()() as session:
        op = session.scalar(select(Operation).where(Operation.resource_id == instance_id))
        return op is not None and op.status == "running"


def _delete_and_check_nothing_left(
    rdb: RdbV1API, docker_client: docker.DockerClient, instance_id: str
) -> None:
    rdb.delete_instance(instance_id=instance_id)
    with pytest.raises(ScalewayException) as gone:
        rdb.wait_for_instance(instance_id=instance_id, options=WAIT)
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, instance_id) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }


def test_worker_killed_during_provisioning_converges_without_orphans(
    rdb: RdbV1API, worker: Worker, docker_client: docker.DockerClient
) -> None:
    instance_id = _create(rdb, "killed-worker")
    deadline = time.monotonic() + 60
    while not (
        _provision_op_running(instance_id)
        and instance_resources(docker_client, instance_id)["networks"]
    ):
        assert time.monotonic() < deadline, "provisioning never started"
        time.sleep(0.05)
    worker.kill()  # SIGKILL mid-provisioning
    worker.start()

    ready = rdb.wait_for_instance(instance_id=instance_id, options=WAIT)
    assert ready.status == InstanceStatus.READY
    resources = instance_resources(docker_client, instance_id)
    assert sorted(resources["containers"]) == sorted(
        [f"{PREFIX}-{instance_id}-n1", f"{PREFIX}-{instance_id}-lb"]
    ), resources
    assert resources["networks"] == [f"{PREFIX}-{instance_id}"]
    assert resources["volumes"] == [f"{PREFIX}-{instance_id}-n1-data"]
    (endpoint,) = ready.endpoints
    with psycopg.connect(
        host=endpoint.ip,
        port=endpoint.port,
        user="owner",
        password=PASSWORD,
        dbname="rdb",
        connect_timeout=10,
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    _delete_and_check_nothing_left(rdb, docker_client, instance_id)


def test_vanished_node_is_reported_then_healed_with_its_data(
    rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    instance_id = _create(rdb, "healing")
    ready = rdb.wait_for_instance(instance_id=instance_id, options=WAIT)
    (endpoint,) = ready.endpoints
    dsn = dict(
        host=endpoint.ip,
        port=endpoint.port,
        user="owner",
        password=PASSWORD,
        dbname="rdb",
        connect_timeout=5,
    )
    with psycopg.connect(**dsn) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    # The node vanishes.
    docker_client.containers.get(f"{PREFIX}-{instance_id}-n1").remove(force=True)
    seen = set()
    deadline = time.monotonic() + 120
    while True:
        status = rdb.get_instance(instance_id=instance_id).status
        seen.add(status)
        if status == InstanceStatus.READY and InstanceStatus.AUTOHEALING in seen:
            break
        assert status != InstanceStatus.ERROR
        assert time.monotonic() < deadline, f"never healed; saw {seen}"
        time.sleep(0.5)
    with psycopg.connect(**dsn) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    _delete_and_check_nothing_left(rdb, docker_client, instance_id)
