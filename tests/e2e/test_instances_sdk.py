"""The official Scaleway SDK drives a real instance of each engine through its whole life.

One test, parametrised over engine versions; ``Family`` holds the little that differs between a
PostgreSQL and a MySQL-family client (driver, DDL, version query, listed default settings).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from scaleway import ScalewayException, WaitForOptions
from scaleway.rdb.v1 import InstanceStatus, ListInstancesRequestOrderBy, RdbV1API, VolumeType

from tests.e2e.conftest import instance_resources

WAIT = WaitForOptions(timeout=240, min_delay=1, max_delay=3)
USER = "app_admin"
PASSWORD = "Sup3r-secret!pw"

pytestmark = pytest.mark.docker


def _pg_connect(host: str, port: int, password: str) -> Any:
    return psycopg.connect(
        host=host, port=port, user=USER, password=password, dbname="rdb", connect_timeout=10
    )


def _mysql_connect(host: str, port: int, password: str) -> Any:
    return pymysql.connect(
        host=host, port=port, user=USER, password=password, database="rdb", connect_timeout=10
    )


@dataclass(frozen=True)
class Family:
    """A DB-API client for one engine family, and what its instances look like to a user."""

    connect: Callable[[str, int, str], Any]  # (host, port, password) -> DB-API connection
    refused: type[Exception]  # raised by connect with a wrong password
    create_table: str
    version_query: str  # first column starts with "<major>."
    whoami_query: str
    whoami: str
    listed_settings: frozenset[str]


POSTGRESQL = Family(
    connect=_pg_connect,
    refused=psycopg.OperationalError,
    create_table="CREATE TABLE notes (id serial PRIMARY KEY, body text)",
    version_query="SHOW server_version",
    whoami_query="SELECT current_user",
    whoami=USER,
    listed_settings=frozenset({"max_connections", "work_mem"}),
)
MARIADB = Family(
    connect=_mysql_connect,
    refused=pymysql.err.OperationalError,
    create_table="CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT)",
    version_query="SELECT VERSION()",
    whoami_query="SELECT CURRENT_USER()",
    whoami=f"{USER}@%",
    listed_settings=frozenset({"max_connections"}),
)
FAMILIES = {"PostgreSQL": POSTGRESQL, "MariaDB": MARIADB}


def write_and_read(family: Family, host: str, port: int, major: str) -> None:
    with closing(family.connect(host, port, PASSWORD)) as conn:
        cur = conn.cursor()
        cur.execute(family.create_table)
        cur.execute("INSERT INTO notes (body) VALUES ('hello')")
        conn.commit()
        cur.execute("SELECT body FROM notes")
        assert cur.fetchone() == ("hello",)
        cur.execute(family.version_query)
        version = cur.fetchone()[0]
        assert version.startswith(f"{major}."), version
        # The password was handed over as a verifier (SCRAM / native hash), never in clear.
        cur.execute(family.whoami_query)
        assert cur.fetchone() == (family.whoami,)


@pytest.mark.parametrize(
    "engine", ["PostgreSQL-15", "PostgreSQL-17", "MariaDB-10.11", "MariaDB-11.8"]
)
def test_lifecycle_through_the_sdk(
    rdb: RdbV1API, docker_client: docker.DockerClient, engine: str
) -> None:
    engine_name, major = engine.split("-")
    family = FAMILIES[engine_name]
    created = rdb.create_instance(
        engine=engine, user_name=USER, password=PASSWORD, node_type="DB-DEV-S",
        is_ha_cluster=False, disable_backup=True, volume_size=5_000_000_000,
        volume_type=VolumeType.SBS_5K, backup_same_region=False,
        name=f"e2e-{engine.lower()}", tags=["e2e", engine.lower()],
    )  # fmt: skip
    assert created.status == InstanceStatus.PROVISIONING
    assert created.node_type == "db-dev-s"
    ready = rdb.wait_for_instance(instance_id=created.id, options=WAIT)
    assert ready.status == InstanceStatus.READY, ready
    (endpoint,) = ready.endpoints
    assert endpoint.load_balancer is not None and endpoint.ip == "127.0.0.1"
    assert {s.name for s in ready.settings} >= family.listed_settings

    write_and_read(family, endpoint.ip, endpoint.port, major)
    with pytest.raises(family.refused):
        family.connect(endpoint.ip, endpoint.port, "wrong-Passw0rd!")

    updated = rdb.update_instance(
        instance_id=created.id, name=f"renamed-{engine.lower()}", tags=["e2e", "renamed"]
    )
    assert updated.name == f"renamed-{engine.lower()}" and updated.tags == ["e2e", "renamed"]

    listed = rdb.list_instances(
        tags=["renamed"], name="renamed-", order_by=ListInstancesRequestOrderBy.NAME_ASC
    )
    assert created.id in [i.id for i in listed.instances]
    assert all({"e2e", "renamed"} <= set(i.tags) for i in listed.instances)

    rdb.delete_instance(instance_id=created.id)
    with pytest.raises(ScalewayException) as gone:
        rdb.wait_for_instance(instance_id=created.id, options=WAIT)
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, created.id) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }
    state_dir = Path(os.environ["DBAAS_STATE_DIR"]) / "volumes"
    assert not list(state_dir.glob(f"*{created.id}*")) if state_dir.exists() else True
