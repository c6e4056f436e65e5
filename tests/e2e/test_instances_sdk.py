"""The official Scaleway SDK drives a real PostgreSQL instance through its whole life."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import psycopg
import pytest
from scaleway import ScalewayException, WaitForOptions
from scaleway.rdb.v1 import InstanceStatus, ListInstancesRequestOrderBy, RdbV1API, VolumeType

from tests.e2e.conftest import instance_resources

WAIT = WaitForOptions(timeout=240, min_delay=1, max_delay=3)
PASSWORD = "Sup3r-secret!pw"

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("engine", ["PostgreSQL-15", "PostgreSQL-17"])
def test_postgresql_lifecycle_through_the_sdk(rdb: RdbV1API, docker_client: docker.DockerClient, engine: str) -> None:
    created = rdb.create_instance(
        engine=engine, user_name="app_admin", password=PASSWORD, node_type="DB-DEV-S",
        is_ha_cluster=False, disable_backup=True, volume_size=5_000_000_000,
        volume_type=VolumeType.SBS_5K, backup_same_region=False,
        name=f"e2e-{engine.lower()}", tags=["e2e", engine.lower()],
    )
    assert created.status == InstanceStatus.PROVISIONING
    assert created.node_type == "db-dev-s"
    ready = rdb.wait_for_instance(instance_id=created.id, options=WAIT)
    assert ready.status == InstanceStatus.READY, ready
    (endpoint,) = ready.endpoints
    assert endpoint.load_balancer is not None and endpoint.ip == "127.0.0.1"
    assert {s.name for s in ready.settings} >= {"max_connections", "work_mem"}

    with psycopg.connect(host=endpoint.ip, port=endpoint.port, user="app_admin",
                         password=PASSWORD, dbname="rdb", connect_timeout=10) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes (body) VALUES ('hello')")
        conn.commit()
        assert conn.execute("SELECT body FROM notes").fetchone() == ("hello",)
        major = conn.execute("SHOW server_version_num").fetchone()[0]
        assert major.startswith(engine.split("-")[1])
        # The password was handed over as a SCRAM verifier, never in clear.
        assert conn.execute("SELECT rolname FROM pg_roles WHERE rolname = current_user").fetchone()

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=endpoint.ip, port=endpoint.port, user="app_admin",
                        password="wrong-Passw0rd!", dbname="rdb", connect_timeout=5)

    updated = rdb.update_instance(instance_id=created.id, name=f"renamed-{engine.lower()}",
                                  tags=["e2e", "renamed"])
    assert updated.name == f"renamed-{engine.lower()}" and updated.tags == ["e2e", "renamed"]

    listed = rdb.list_instances(tags=["renamed"], name="renamed-", order_by=ListInstancesRequestOrderBy.NAME_ASC)
    assert created.id in [i.id for i in listed.instances]
    assert all({"e2e", "renamed"} <= set(i.tags) for i in listed.instances)

    rdb.delete_instance(instance_id=created.id)
    with pytest.raises(ScalewayException) as gone:
        rdb.wait_for_instance(instance_id=created.id, options=WAIT)
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, created.id) == {"containers": [], "networks": [], "volumes": []}
    state_dir = Path(os.environ["DBAAS_STATE_DIR"]) / "volumes"
    assert not [p for p in state_dir.glob(f"*{created.id}*")] if state_dir.exists() else True
