"""Logical backups through the official SDK, checked on the engine itself: backup, drop a
table, restore, the table and its rows are back (owned by the customer's admin); restore under
another name; export and download with plain HTTP, the dump parses (``pg_restore --list``) or
holds the table; the stored object is encrypted, and an altered one is refused before anything
changes; a backup outlives its instance and restores into another; expiry and deletion remove
object and row; the schedule (an injected clock) takes one backup per database per run, once.
One standalone instance per engine family, shared by the module; one PostgreSQL HA instance
shows the dump is taken from the standby."""

from __future__ import annotations

import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import RdbV1API
from sqlalchemy import select

from controlplane.db.models import DatabaseBackup, Node, Operation
from controlplane.db.session import session_factory
from controlplane.logstore import get_store
from tests.support.instances import ready_instance, wait
from workers.backup_jobs import expire_all, schedule_all

ADMIN, PASSWORD = "bkp_admin", "Bkp-Adm1n!pw"
ROWS = [(1, "alpha"), (2, "beta"), (3, "gamma")]
pytestmark = pytest.mark.docker


@dataclass
class Engine:
    family: str
    instance_id: str
    host: str
    port: int

    @property
    def pg(self) -> bool:
        return self.family == "postgresql"

    def connect(self, database: str = "rdb", user: str = ADMIN, password: str = PASSWORD) -> Any:
        where: dict[str, Any] = {"host": self.host, "port": self.port, "user": user}
        where["password"] = password
        if self.pg:
            return psycopg.connect(**where, dbname=database, autocommit=True, connect_timeout=10)
        return pymysql.connect(**where, database=database, autocommit=True, connect_timeout=10)

    def run(self, statement: str, database: str = "rdb") -> list[Any]:
        with closing(self.connect(database)) as conn:
            if self.pg:
                cursor = conn.execute(statement)
                return list(cursor.fetchall()) if cursor.description else []
            with closing(conn.cursor()) as cursor:
                cursor.execute(statement)
                return [tuple(r) for r in cursor.fetchall()]

    def rows(self, table: str = "things", database: str = "rdb") -> list[Any]:
        return [tuple(r) for r in self.run(f"SELECT id, label FROM {table} ORDER BY id", database)]


def _fill(engine: Engine, table: str = "things") -> None:
    engine.run(f"CREATE TABLE {table} (id INT PRIMARY KEY, label VARCHAR(32) NOT NULL)")
    values = ", ".join(f"({i}, '{label}')" for i, label in ROWS)
    engine.run(f"INSERT INTO {table} VALUES {values}")


@pytest.fixture(scope="module", params=["PostgreSQL-15", "MariaDB-10.11"])
def engine(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[Engine]:
    family = "postgresql" if request.param.startswith("PostgreSQL") else "mysql"
    with ready_instance(rdb, docker_client, engine=request.param, user=ADMIN,
                        password=PASSWORD, name=f"backups-{family}") as instance_id:  # fmt: skip
        endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
        engine = Engine(family, instance_id, endpoint.ip, endpoint.port)
        _fill(engine)
        yield engine
        _drop_backups(rdb, instance_id)


def _drop_backups(rdb: RdbV1API, instance_id: str) -> None:
    """Backups outlive their instance: the module's go explicitly."""
    for backup in rdb.list_database_backups_all(instance_id=instance_id):
        if backup.status in ("creating", "restoring", "exporting"):
            rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
        rdb.delete_database_backup(database_backup_id=backup.id)


def _backup(rdb: RdbV1API, engine: Engine, name: str, instance_id: str | None = None) -> Any:
    created = rdb.create_database_backup(
        instance_id=instance_id or engine.instance_id, database_name="rdb", name=name
    )
    assert created.status == "creating" and not created.size  # null (the SDK reads 0)
    ready = rdb.wait_for_database_backup(database_backup_id=created.id, options=wait())
    assert ready.status == "ready", ready
    return ready


def _row(backup_id: str) -> DatabaseBackup:
    with session_factory()() as session:
        row = session.get(DatabaseBackup, backup_id)
        assert row is not None
        session.expunge(row)
        return row


def _restore(rdb: RdbV1API, backup_id: str, instance_id: str, database: str | None) -> Any:
    restoring = rdb.restore_database_backup(
        database_backup_id=backup_id, instance_id=instance_id, database_name=database
    )
    assert restoring.status == "restoring"
    assert rdb.get_instance(instance_id=instance_id).status == "backuping"
    done = rdb.wait_for_database_backup(database_backup_id=backup_id, options=wait())
    assert done.status == "ready" and _row(backup_id).status_reason is None  # no failure
    assert rdb.wait_for_instance(instance_id=instance_id, options=wait()).status == "ready"
    return done


def test_backup_drop_restore_brings_the_rows_back(rdb: RdbV1API, engine: Engine) -> None:
    backup = _backup(rdb, engine, "before-drop")
    assert (backup.instance_id, backup.database_name, backup.region) == (
        engine.instance_id, "rdb", "fr-par")  # fmt: skip
    assert backup.size > 0 and backup.expires_at is None and backup.download_url is None
    # Encrypted at rest, with its checksum recorded.
    row = _row(backup.id)
    assert row.object_key and row.object_key.startswith("backups/") and row.checksum
    stored = get_store().get(row.object_key)
    assert b"alpha" not in stored and b"things" not in stored
    # Listed, filtered, renamed.
    listed = rdb.list_database_backups(instance_id=engine.instance_id, name="before")
    assert [b.id for b in listed.database_backups] == [backup.id] and listed.total_count == 1
    renamed = rdb.update_database_backup(database_backup_id=backup.id, name="renamed")
    assert renamed.name == "renamed"

    engine.run("DROP TABLE things")
    engine.run("CREATE TABLE later (id INT)")  # made after the backup: dropped by the overwrite
    _restore(rdb, backup.id, engine.instance_id, None)
    assert engine.rows() == ROWS
    engine.run("INSERT INTO things VALUES (4, 'delta')")  # the admin still owns its data
    engine.run("DELETE FROM things WHERE id = 4")
    if engine.pg:
        owner = engine.run("SELECT tableowner FROM pg_tables WHERE tablename = 'things'")
        assert owner == [(ADMIN,)]


def test_restore_under_another_name(rdb: RdbV1API, engine: Engine) -> None:
    backup = _backup(rdb, engine, "copy-source")
    _restore(rdb, backup.id, engine.instance_id, "rdb_copy")
    assert engine.rows(database="rdb_copy") == ROWS
    names = [d.name for d in rdb.list_databases(instance_id=engine.instance_id).databases]
    assert "rdb_copy" in names and "rdb" in names


def test_export_downloads_a_plain_dump(rdb: RdbV1API, engine: Engine) -> None:
    backup = _backup(rdb, engine, "export-me")
    exporting = rdb.export_database_backup(database_backup_id=backup.id)
    assert exporting.status == "exporting"
    exported = rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
    assert exported.status == "ready" and exported.download_url
    assert exported.download_url_expires_at > datetime.now(UTC) + timedelta(hours=1)
    with urllib.request.urlopen(exported.download_url, timeout=30) as response:  # no API key
        dump = response.read()
    assert len(dump) == exported.size
    if engine.pg:
        assert dump.startswith(b"PGDMP")
        with tempfile.NamedTemporaryFile(suffix=".dump") as f:
            f.write(dump)
            f.flush()
            listing = subprocess.run(["pg_restore", "--list", f.name], capture_output=True,
                                     text=True, check=True).stdout  # fmt: skip
        assert "TABLE public things" in listing and "TABLE DATA public things" in listing
    else:
        assert b"CREATE TABLE `things`" in dump and b"'gamma'" in dump
        # stored gzipped, then encrypted: the object is smaller than the SQL it gives back
        with session_factory()() as session:
            row = session.get(DatabaseBackup, backup.id)
            assert row is not None and row.object_key
            stored = get_store().objects(row.object_key)
        assert stored and stored[0].size < len(dump) * 2 // 3
    tampered = exported.download_url.replace("signature=", "signature=0")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=30)
    assert refused.value.code == 403


def test_an_altered_object_is_refused_before_anything_changes(
    rdb: RdbV1API, engine: Engine
) -> None:
    backup = _backup(rdb, engine, "to-alter")
    key = _row(backup.id).object_key
    assert key
    stored = bytearray(get_store().get(key))
    stored[-5] ^= 0xFF
    get_store().put(key, bytes(stored))
    engine.run("CREATE TABLE marker (id INT)")
    rdb.restore_database_backup(database_backup_id=backup.id, instance_id=engine.instance_id)
    after = rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
    assert after.status == "ready"  # the restore failed; the backup row itself is unharmed
    assert rdb.wait_for_instance(instance_id=engine.instance_id, options=wait()).status == "ready"
    assert "checksum mismatch" in (_row(backup.id).status_reason or "")
    assert engine.run("SELECT count(*) FROM marker") == [(0,)]  # the database was not touched
    engine.run("DROP TABLE marker")


def test_expired_and_deleted_backups_go_with_their_object(rdb: RdbV1API, engine: Engine) -> None:
    soon = _backup(rdb, engine, "expiring")
    key = _row(soon.id).object_key
    assert key and get_store().objects(key)
    updated = rdb.update_database_backup(
        database_backup_id=soon.id, expires_at=datetime.now(UTC) + timedelta(seconds=2)
    )
    assert updated.expires_at is not None
    time.sleep(2.5)
    expire_all(session_factory())  # the worker's periodic pass may have dropped it already
    with pytest.raises(ScalewayException) as gone:
        rdb.get_database_backup(database_backup_id=soon.id)
    assert gone.value.status_code == 404 and not get_store().objects(key)

    other = _backup(rdb, engine, "deleted")
    other_key = _row(other.id).object_key
    assert rdb.delete_database_backup(database_backup_id=other.id).status == "deleting"
    with pytest.raises(ScalewayException) as deleted:
        rdb.wait_for_database_backup(database_backup_id=other.id, options=wait())
    assert deleted.value.status_code == 404
    assert other_key and not get_store().objects(other_key)


def test_scheduled_backups_run_on_time_for_every_database(rdb: RdbV1API, engine: Engine) -> None:
    iid = engine.instance_id
    changed = rdb.update_instance(
        instance_id=iid, is_backup_schedule_disabled=False, backup_schedule_frequency=1,
        backup_schedule_retention=2,
    )  # fmt: skip
    schedule = changed.backup_schedule
    assert schedule is not None and not schedule.disabled and schedule.next_run_at is not None
    assert rdb.wait_for_instance(instance_id=iid, options=wait()).status == "ready"
    created = rdb.get_instance(instance_id=iid).created_at
    assert created is not None and schedule.next_run_at == created + timedelta(hours=1)
    databases = {d.name for d in rdb.list_databases(instance_id=iid).databases}
    try:
        assert (
            schedule_all(session_factory(), now=schedule.next_run_at - timedelta(minutes=1)) == []
        )
        due = schedule.next_run_at + timedelta(minutes=5)  # an injected clock: the run is due
        assert len(schedule_all(session_factory(), now=due)) == len(databases)
        assert schedule_all(session_factory(), now=due) == []  # taken once per run
        taken = rdb.list_database_backups(instance_id=iid, name="scheduled-").database_backups
        assert {b.database_name for b in taken} == databases and len(taken) == len(databases)
        for backup in taken:
            done = rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
            assert done.status == "ready" and done.size > 0
            assert done.expires_at == schedule.next_run_at + timedelta(days=2)
    finally:
        rdb.update_instance(instance_id=iid, is_backup_schedule_disabled=True)
        rdb.wait_for_instance(instance_id=iid, options=wait())


def test_a_backup_outlives_its_instance_and_restores_into_another(
    rdb: RdbV1API, engine: Engine, docker_client: docker.DockerClient
) -> None:
    if not engine.pg:
        pytest.skip("one engine family is enough for a second instance (suite time)")
    with ready_instance(rdb, docker_client, engine="PostgreSQL-15", user=ADMIN,
                        password=PASSWORD, name="backups-other") as other_id:  # fmt: skip
        endpoint = rdb.get_instance(instance_id=other_id).endpoints[0]
        other = Engine("postgresql", other_id, endpoint.ip, endpoint.port)
        _fill(other, "elsewhere")
        backup = _backup(rdb, other, "from-other", instance_id=other_id)
    kept = rdb.get_database_backup(database_backup_id=backup.id)  # the instance is gone
    assert kept.status == "ready" and kept.instance_id == other_id
    try:
        _restore(rdb, backup.id, engine.instance_id, "from_other")
        assert engine.rows("elsewhere", database="from_other") == ROWS
    finally:
        rdb.delete_database_backup(database_backup_id=backup.id)


def test_an_ha_instance_is_dumped_from_its_standby(
    rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    with ready_instance(rdb, docker_client, engine="PostgreSQL-15", user=ADMIN,
                        password=PASSWORD, name="backups-ha", ha=True) as iid:  # fmt: skip
        endpoint = rdb.get_instance(instance_id=iid).endpoints[0]
        ha = Engine("postgresql", iid, endpoint.ip, endpoint.port)
        _fill(ha)  # synchronous replication: committed on the standby too
        backup = _backup(rdb, ha, "from-standby", instance_id=iid)
        try:
            with session_factory()() as session:
                standbys = session.scalars(
                    select(Node.name).where(Node.instance_id == iid, Node.role == "standby")
                ).all()
                op = session.scalars(
                    select(Operation).where(Operation.resource_id == backup.id)
                ).one()
                assert op.kind == "create_backup" and op.params["node"] in standbys
            _restore(rdb, backup.id, iid, "copied")  # restores go to the main node
            assert ha.rows(database="copied") == ROWS
        finally:
            rdb.delete_database_backup(database_backup_id=backup.id)
