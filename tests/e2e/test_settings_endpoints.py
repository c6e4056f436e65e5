"""Settings and endpoints through the official SDK, checked on the engines themselves.

One instance per engine family for the module: PostgreSQL with HA (a setting must hold on the
standby too, and a restart-only one rolls through a switchover), MariaDB standalone. Then the
load-balancer endpoint is deleted, created again, and migrated to another instance, each time
with real connections through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import (
    EndpointSpec,
    EndpointSpecLoadBalancer,
    EndpointSpecPrivateNetwork,
    InstanceSetting,
    InstanceStatus,
    RdbV1API,
)

from tests.e2e.clients import CLIENTS, EngineClient
from tests.support.engine import blueprint
from tests.support.ha import wait_ha_again
from tests.support.instances import ready_instance, wait
from workers.blueprint import connection

USER, PASSWORD = "set_admin", "Sett1ngs-Pass!"
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def instance(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, EngineClient, str]]:
    family = request.param
    client = CLIENTS[family]
    with ready_instance(
        rdb,
        docker_client,
        engine=client.engine,
        user=USER,
        password=PASSWORD,
        name=f"settings-{family}",
        ha=family == "postgresql",
    ) as instance_id:
        yield instance_id, client, family  # fmt: skip


def _query_every_node(instance_id: str, sql: str) -> dict[str, Any]:
    """``sql``'s single value on each node, asked as the control plane's own superuser."""
    bp = blueprint(instance_id)
    values: dict[str, Any] = {}
    for node in bp.roles:
        c = connection(bp, node)
        if bp.agent.family == "postgresql":
            with psycopg.connect(host=c.host, port=c.port, user=c.user, password=c.password,
                                 dbname="postgres", connect_timeout=5) as conn:  # fmt: skip
                row = conn.execute(sql).fetchone()
        else:
            mysql = pymysql.connect(
                host=c.host, port=c.port, user=c.user, password=c.password, connect_timeout=5
            )
            with closing(mysql) as conn:
                cursor = conn.cursor()
                cursor.execute(sql)
                row = cursor.fetchone()
        assert row is not None
        values[node] = row[0]
    return values


def _on_every_node(instance_id: str, sql: str, expected: Callable[[Any], bool]) -> None:
    """Every node (main, standby) answers ``sql`` with a value ``expected`` accepts; a reload
    reaches new sessions within moments."""
    deadline = time.monotonic() + 15
    while True:
        values = _query_every_node(instance_id, sql)
        if values and all(expected(v) for v in values.values()):
            return
        assert time.monotonic() < deadline, f"{sql}: {values}"
        time.sleep(0.3)


def _settled(rdb: RdbV1API, instance_id: str) -> Any:
    """Ready again, and synchronous again when HA."""
    found = rdb.wait_for_instance(instance_id=instance_id, options=wait())
    assert found.status == InstanceStatus.READY, found
    if found.is_ha_cluster:
        wait_ha_again(instance_id)
    return rdb.get_instance(instance_id=instance_id)


def _shown(settings: Any) -> dict[str, str]:
    return {s.name: s.value for s in settings}


def _endpoint(rdb: RdbV1API, instance_id: str) -> Any:
    (endpoint,) = rdb.get_instance(instance_id=instance_id).endpoints
    return endpoint


def _refused(call: Callable[[], object], status: int = 400) -> dict[str, Any]:
    with pytest.raises(ScalewayException) as refused:
        call()
    assert refused.value.status_code == status, refused.value.response.text
    body: dict[str, Any] = refused.value.response.json()
    return body


def test_invalid_settings_change_nothing(
    rdb: RdbV1API, instance: tuple[str, EngineClient, str]
) -> None:
    instance_id, _client, family = instance
    before = rdb.get_instance(instance_id=instance_id)
    number = "work_mem" if family == "postgresql" else "max_connections"
    init_only = "lc_collate" if family == "postgresql" else "lower_case_table_names"
    calls = [
        lambda: rdb.add_instance_settings(
            instance_id=instance_id, settings=[InstanceSetting(name="no_such_one", value="1")]
        ),
        lambda: rdb.set_instance_settings(
            instance_id=instance_id, settings=[InstanceSetting(name=number, value="lots")]
        ),
        lambda: rdb.add_instance_settings(
            instance_id=instance_id, settings=[InstanceSetting(name=number, value="99999999")]
        ),
        lambda: rdb.set_instance_settings(
            instance_id=instance_id, settings=[InstanceSetting(name=init_only, value="1")]
        ),
        lambda: rdb.delete_instance_settings(instance_id=instance_id, setting_names=["nope"]),
    ]
    for call in calls:
        body = _refused(call)
        assert body["type"] == "invalid_arguments" and body["details"][0]["help_message"]
    after = rdb.get_instance(instance_id=instance_id)
    assert after.status == InstanceStatus.READY and after.settings == before.settings


def test_hot_settings_hold_on_every_node(
    rdb: RdbV1API, instance: tuple[str, EngineClient, str]
) -> None:
    """Terraform's PUT right after create (it replaces the whole set)."""
    instance_id, _client, family = instance
    if family == "postgresql":
        wanted = [InstanceSetting(name="work_mem", value="8")]
        answer = rdb.set_instance_settings(instance_id=instance_id, settings=wanted).settings
        assert _shown(answer)["work_mem"] == "8" and _shown(answer)["max_connections"] == "100"
        assert _shown(_settled(rdb, instance_id).settings) == _shown(answer)
        _on_every_node(instance_id, "SHOW work_mem", lambda v: v == "8MB")
    else:
        wanted = [
            InstanceSetting(name="long_query_time", value="2.5"),
            InstanceSetting(name="max_connections", value="150"),
        ]
        answer = rdb.set_instance_settings(instance_id=instance_id, settings=wanted).settings
        assert _shown(answer) == {"long_query_time": "2.5", "max_connections": "150"}
        assert _shown(_settled(rdb, instance_id).settings) == _shown(answer)
        _on_every_node(instance_id, "SELECT @@global.long_query_time", lambda v: float(v) == 2.5)
        _on_every_node(instance_id, "SELECT @@global.max_connections", lambda v: int(v) == 150)


def test_a_restart_setting_rolls_through_every_node(
    rdb: RdbV1API, instance: tuple[str, EngineClient, str]
) -> None:
    instance_id, client, family = instance
    endpoint = _endpoint(rdb, instance_id)
    with closing(client.connect(endpoint.ip, endpoint.port, USER, PASSWORD)) as conn:
        client.create_probe_table(conn)
        client.insert_committed(conn, 1)
    if family == "postgresql":  # not hot: the standby first, a switchover, the old main node
        name, value, sql, check = "max_connections", "150", "SHOW max_connections", "150"
    else:
        name, value = "default_time_zone", "+02:00"
        sql, check = "SELECT @@global.time_zone", "+02:00"
    answer = rdb.add_instance_settings(
        instance_id=instance_id, settings=[InstanceSetting(name=name, value=value)]
    )
    assert _shown(answer.settings)[name] == value
    assert rdb.get_instance(instance_id=instance_id).status == InstanceStatus.CONFIGURING
    settled = _settled(rdb, instance_id)
    assert _shown(settled.settings)[name] == value
    assert _shown(settled.settings).get("work_mem") in (None, "8")  # the hot one stays
    _on_every_node(instance_id, sql, lambda v: str(v) == check)
    with closing(client.connect(endpoint.ip, endpoint.port, USER, PASSWORD)) as conn:
        client.insert_committed(conn, 2)
        assert client.probe_ids(conn) == {1, 2}


def test_deleted_settings_return_to_their_default(
    rdb: RdbV1API, instance: tuple[str, EngineClient, str]
) -> None:
    """PostgreSQL: a lower max_connections restarts the main node first (a standby must hold
    at least the primary's value)."""
    instance_id, _client, family = instance
    checks: dict[str, Callable[[Any], bool]]
    if family == "postgresql":
        names = ["max_connections", "work_mem"]
        checks = {
            "SHOW max_connections": lambda v: v == "100",
            "SHOW work_mem": lambda v: v == "4MB",
        }
        expected = {"max_connections": "100", "work_mem": "4"}
    else:
        names = ["default_time_zone", "long_query_time", "max_connections"]
        checks = {
            "SELECT @@global.time_zone": lambda v: v == "SYSTEM",
            "SELECT @@global.long_query_time": lambda v: float(v) == 10,
            "SELECT @@global.max_connections": lambda v: int(v) == 100,
        }
        expected = {"max_connections": "100"}
    answer = rdb.delete_instance_settings(instance_id=instance_id, setting_names=names)
    shown = _shown(answer.settings)
    assert {k: shown.get(k) for k in expected} == expected
    assert not ({"default_time_zone", "long_query_time"} & shown.keys())
    assert _shown(_settled(rdb, instance_id).settings) == shown
    for sql, check in checks.items():
        _on_every_node(instance_id, sql, check)


def test_load_balancer_endpoint_delete_get_create(
    rdb: RdbV1API, instance: tuple[str, EngineClient, str]
) -> None:
    instance_id, client, _family = instance
    old = _endpoint(rdb, instance_id)
    assert rdb.get_endpoint(endpoint_id=old.id) == old and old.load_balancer is not None

    assert rdb.delete_endpoint(endpoint_id=old.id) is None
    gone = _refused(lambda: rdb.get_endpoint(endpoint_id=old.id), 404)
    assert (gone["type"], gone["resource"], gone["resource_id"]) == ("not_found", "endpoint",
                                                                     old.id)  # fmt: skip
    settled = _settled(rdb, instance_id)
    assert settled.endpoints == [] and settled.endpoint is None
    with pytest.raises((psycopg.OperationalError, pymysql.err.OperationalError)):
        client.connect(old.ip, old.port, USER, PASSWORD, timeout=2).close()  # nothing listens

    pn = EndpointSpec(private_network=EndpointSpecPrivateNetwork(
        private_network_id=instance_id, service_ip="10.0.0.5/24"))  # fmt: skip
    body = _refused(lambda: rdb.create_endpoint(instance_id=instance_id, endpoint_spec=pn))
    assert body["details"][0]["argument_name"] == "endpoint_spec.private_network"

    lb = EndpointSpec(load_balancer=EndpointSpecLoadBalancer())
    new = rdb.create_endpoint(instance_id=instance_id, endpoint_spec=lb)
    assert new.load_balancer is not None and new.id != old.id
    assert rdb.get_instance(instance_id=instance_id).status == InstanceStatus.INITIALIZING
    settled = _settled(rdb, instance_id)
    assert settled.endpoints == [new] and settled.endpoint == new
    with closing(client.connect(new.ip, new.port, USER, PASSWORD)) as conn:
        assert client.probe_ids(conn) == {1, 2}
    body = _refused(lambda: rdb.create_endpoint(instance_id=instance_id, endpoint_spec=lb))
    assert "at most one" in body["details"][0]["help_message"]


def _has_probe_table(client: EngineClient, endpoint: Any) -> bool:
    with closing(client.connect(endpoint.ip, endpoint.port, USER, PASSWORD)) as conn:
        cursor = conn.cursor()
        if client is CLIENTS["postgresql"]:
            cursor.execute("SELECT to_regclass('probe') IS NOT NULL")
            return bool(cursor.fetchone()[0])
        cursor.execute("SHOW TABLES LIKE 'probe'")
        return cursor.fetchone() is not None


def test_an_endpoint_migrates_to_another_instance(
    rdb: RdbV1API, docker_client: docker.DockerClient, instance: tuple[str, EngineClient, str]
) -> None:
    source_id, client, family = instance
    moving = _endpoint(rdb, source_id)
    assert _has_probe_table(client, moving)
    with ready_instance(rdb, docker_client, engine=client.engine, user=USER, password=PASSWORD,
                        name=f"settings-target-{family}") as target_id:  # fmt: skip
        own = _endpoint(rdb, target_id)
        body = _refused(lambda: rdb.migrate_endpoint(endpoint_id=moving.id, instance_id=target_id))
        assert "at most one" in body["details"][0]["help_message"]
        rdb.delete_endpoint(endpoint_id=own.id)
        _settled(rdb, target_id)

        moved = rdb.migrate_endpoint(endpoint_id=moving.id, instance_id=target_id)
        assert moved == moving  # the same id, address and port
        target, source = _settled(rdb, target_id), _settled(rdb, source_id)
        assert target.endpoints == [moving] and source.endpoints == []
        assert not _has_probe_table(client, moving)  # the port now reaches the target
