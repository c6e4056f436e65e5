"""Clones and major version upgrades through the official SDK: new, independent instances
holding the source's data, users, passwords, databases and privileges; the source untouched."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
import pymysql
import pytest
from scaleway.rdb.v1 import RdbV1API, UpgradeInstanceRequestMajorUpgradeWorkflow
from sqlalchemy import select

from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory
from tests.e2e.clients import CLIENTS, EngineClient
from tests.support.engine import superuser_connection
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete, ids, writing

APP, APP_PASSWORD = "app", "App-Passw0rd!x"
pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Family:
    client: EngineClient
    newer: str
    version_query: str
    prepare: list[str]  # as the admin: a second user, a database with a table, a grant
    app_reads: str  # as the app user


FAMILIES = {
    "postgresql": Family(
        CLIENTS["postgresql"],
        "PostgreSQL-17",
        "SHOW server_version",
        [
            f"CREATE ROLE {APP} LOGIN PASSWORD '{APP_PASSWORD}'",
            "CREATE DATABASE shop",
        ],
        "SELECT count(*) FROM probe",
    ),
    "mariadb": Family(
        CLIENTS["mariadb"],
        "MariaDB-11.8",
        "SELECT VERSION()",
        [
            f"CALL _rdb.create_user('{APP}', '{APP_PASSWORD}')",
            "CALL _rdb.create_database('shop')",
            "CREATE TABLE shop.items (id INT PRIMARY KEY)",
            "INSERT INTO shop.items VALUES (1), (2)",
            f"GRANT SELECT ON shop.* TO '{APP}'@'%'",
            f"GRANT SELECT ON rdb.* TO '{APP}'@'%'",
        ],
        "SELECT COUNT(*) FROM rdb.probe",
    ),
}


def _run(live: Live, statements: list[str], user: str = USER, password: str = PASSWORD) -> Any:
    with closing(live.client.connect("127.0.0.1", live.port, user, password)) as conn:
        cursor = conn.cursor()
        result = None
        for statement in statements:
            cursor.execute(statement)
            result = cursor.fetchone() if cursor.description else None
        conn.commit()
        return result


def _prepare(family: str, live: Live) -> None:
    spec = FAMILIES[family]
    if family == "postgresql":
        with closing(_pg(live, "rdb")) as conn:  # autocommit: CREATE DATABASE
            for statement in spec.prepare:
                conn.execute(statement)
        with closing(_pg(live, "shop")) as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY)")
            conn.execute("INSERT INTO items VALUES (1), (2)")
            conn.execute(f"GRANT SELECT ON items TO {APP}")
        _run(live, [f"GRANT SELECT ON probe TO {APP}"])
    else:
        _run(live, spec.prepare)


def _pg(live: Live, db: str, user: str = USER, password: str = PASSWORD) -> Any:
    return psycopg.connect(host="127.0.0.1", port=live.port, user=user, password=password,
                           dbname=db, autocommit=True, connect_timeout=10)  # fmt: skip


def _shop_items(family: str, live: Live) -> int:
    """As the app user, through its privileges."""
    if family == "postgresql":
        with closing(_pg(live, "shop", APP, APP_PASSWORD)) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    with closing(pymysql.connect(host="127.0.0.1", port=live.port, user=APP,
                                 password=APP_PASSWORD, connect_timeout=10)) as conn:  # fmt: skip
        cursor = conn.cursor()
        cursor.execute("SELECT COUNT(*) FROM shop.items")
        return int(cursor.fetchone()[0])


def _live(rdb: RdbV1API, instance_id: str, client: EngineClient) -> Live:
    instance = rdb.wait_for_instance(instance_id=instance_id, options=wait())
    assert instance.status == "ready", _why(instance_id)
    return Live(instance.id, instance.endpoints[0].port, client)


def _why(instance_id: str) -> str:
    """What the store says of an instance that did not become ready (for the failure message)."""
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        ops = session.scalars(select(Operation).where(Operation.resource_id == instance_id))
        done = [f"{op.kind} {op.status} ({op.attempts} attempts): {op.error}" for op in ops]
        return f"status {row and row.status}, reason {row and row.status_reason}; {done}"


@pytest.mark.parametrize(("family", "ha"), [("postgresql", False), ("mariadb", True)])
def test_clone_while_writing(rdb: RdbV1API, family: str, ha: bool) -> None:
    source = create(rdb, FAMILIES[family].client, f"clone-src-{family}", ha=ha)
    clone_id = None
    try:
        _prepare(family, source)
        with writing(source) as loop:
            loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=30)
            before = set(loop.acknowledged)  # committed before the clone request
            cloned = rdb.clone_instance(instance_id=source.instance_id, name=f"clone-{family}")
            clone_id = cloned.id
            assert cloned.id != source.instance_id and cloned.status == "provisioning"
            clone = _live(rdb, cloned.id, source.client)
        assert clone.port != source.port
        assert before <= ids(clone)  # with the source's user and password
        assert _shop_items(family, clone) == 2
        _run(clone, ["INSERT INTO probe (id) VALUES (-1)"])
        assert -1 not in ids(source)
        _run(source, ["INSERT INTO probe (id) VALUES (-2)"])
        assert -2 not in ids(clone)
        assert rdb.get_instance(instance_id=clone.instance_id).is_ha_cluster == ha
    finally:
        if clone_id:
            delete(rdb, clone_id)
        delete(rdb, source.instance_id)


@pytest.mark.parametrize(("family", "with_endpoints"), [("postgresql", False), ("mariadb", True)])
def test_major_upgrade_keeps_everything(rdb: RdbV1API, family: str, with_endpoints: bool) -> None:
    spec = FAMILIES[family]
    # PostgreSQL from an HA source: its replication role stays the service's own
    source = create(rdb, spec.client, f"major-{family}", ha=family == "postgresql")
    new_id = None
    try:
        _prepare(family, source)
        with writing(source):
            pass
        rows = ids(source)
        old_version = _run(source, [spec.version_query])[0]
        (target,) = rdb.get_instance(instance_id=source.instance_id).upgradable_version
        assert target.name == spec.newer
        upgraded = rdb.upgrade_instance(
            instance_id=source.instance_id,
            major_upgrade_workflow=UpgradeInstanceRequestMajorUpgradeWorkflow(
                upgradable_version_id=target.id, with_endpoints=with_endpoints
            ),
        )
        new_id = upgraded.id
        assert upgraded.id != source.instance_id and upgraded.engine == spec.newer
        new = _live(rdb, upgraded.id, spec.client)
        old = rdb.get_instance(instance_id=source.instance_id)
        assert old.status == "ready" and old.engine != spec.newer
        if with_endpoints:
            assert new.port == source.port and old.endpoints == []
        else:
            assert new.port != source.port
            assert ids(source) == rows  # untouched and serving
        new_version = _run(new, [spec.version_query])[0]
        assert str(new_version).split(".")[0] == spec.newer.split("-")[1].split(".")[0]
        assert str(new_version) != str(old_version)
        assert ids(new) == rows
        assert _shop_items(family, new) == 2
        assert _run(new, [spec.app_reads], APP, APP_PASSWORD)[0] == len(rows)
    finally:
        if new_id:
            delete(rdb, new_id)
        delete(rdb, source.instance_id)


def test_a_failed_major_upgrade_leaves_the_source_serving(rdb: RdbV1API) -> None:
    """PostgreSQL 17 has no adminpack: restoring the source's extension fails; the new
    instance ends in error with the reason, the source serves throughout."""
    source = create(rdb, CLIENTS["postgresql"], "major-fails", ha=False)
    new_id = None
    try:
        with closing(superuser_connection(source.instance_id, "rdb")) as conn:
            conn.execute("CREATE EXTENSION adminpack")
        with writing(source):
            (target,) = rdb.get_instance(instance_id=source.instance_id).upgradable_version
            upgraded = rdb.upgrade_instance(instance_id=source.instance_id,
                                            upgradable_version_id=target.id)  # fmt: skip
            new_id = upgraded.id
            ended = rdb.wait_for_instance(instance_id=upgraded.id, options=wait())
            assert ended.status == "error"
        assert rdb.get_instance(instance_id=source.instance_id).status == "ready"
    finally:
        if new_id:
            delete(rdb, new_id)
        delete(rdb, source.instance_id)
