"""Snapshots through the official SDK: taken while a client writes (the instance keeps serving),
kept after the instance is deleted, a new HA instance holding every row
committed before the request and passing the engine's own consistency check; then deleted
(PostgreSQL: by the client; MariaDB: by the expiry sweep) with their stored object."""

from __future__ import annotations

import tarfile
import tempfile
import time
from contextlib import closing, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scaleway.rdb.v1 import RdbV1API
from scaleway_core.api import ScalewayException

from controlplane import backup_crypto
from controlplane.db.models import Operation, Snapshot
from controlplane.db.session import session_factory
from controlplane.logstore import get_store
from tests.e2e.clients import CLIENTS
from tests.support.engine import superuser_connection
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete, ids, writing
from workers import snapshot_jobs

pytestmark = pytest.mark.docker


def _stored(snapshot_id: str) -> bool:
    return any(snapshot_id in o.key for o in get_store().objects("snapshots/"))


def _archive_holds_data_only(family: str, snapshot_id: str, size: int) -> None:
    """The stored object is the compressed data directory, encrypted (the instance's backup
    key), without the copy's secrets."""
    with session_factory()() as session:
        row = session.get(Snapshot, snapshot_id)
        assert row is not None and row.object_key and row.checksum
        stored = snapshot_jobs.Stored(row.object_key, row.checksum, row.instance_id, row.key_secret)
        assert row.key_secret  # the sealing key, wrapped by the keyring
    assert get_store().get(stored.key).startswith(backup_crypto.MAGIC)  # not a plain gzip
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "snapshot.tar.gz"
        snapshot_jobs.open_into(stored, path)  # decrypted, its checksum verified
        assert path.stat().st_size == size
        with tarfile.open(path, mode="r:gz") as archive:
            names = archive.getnames()
    marker = "PG_VERSION" if family == "postgresql" else "ibdata1"
    assert any(n.endswith(marker) for n in names), names[:20]
    assert not [n for n in names if ".pgpass" in n or ".dbaas-clone" in n]
    if family == "mariadb":  # physical (mariadb-backup), prepared, with its binlog position
        assert any(n.endswith("_binlog_info") for n in names), names[:20]
        assert any(n.endswith("_checkpoints") for n in names), names[:20]


def _errors(resource_id: str) -> list[tuple[str, str | None]]:
    """What the operations on a resource ended with (a failure's own words)."""
    with session_factory()() as session:
        ops = session.query(Operation).filter(Operation.resource_id == resource_id).all()
        return [(op.kind, op.error) for op in ops]


def _gone(rdb: RdbV1API, snapshot_id: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            rdb.get_snapshot(snapshot_id=snapshot_id)
        except ScalewayException as exc:
            assert exc.status_code == 404
            return
        assert time.monotonic() < deadline, "the snapshot was never deleted"
        time.sleep(0.5)


def _consistent(family: str, live: Live) -> None:
    """amcheck on every B-tree index of the probe's database / CHECK TABLE."""
    if family == "postgresql":
        with closing(superuser_connection(live.instance_id, "rdb")) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            checked = conn.execute(
                "SELECT count(bt_index_check(c.oid, true)) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
                " WHERE a.amname = 'btree' AND c.relpersistence = 'p'"
            ).fetchone()
            assert checked is not None and checked[0] > 0
        return
    with closing(live.client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
        cursor = conn.cursor()
        cursor.execute("CHECK TABLE rdb.probe EXTENDED")
        assert [row[3] for row in cursor.fetchall()][-1] == "OK"


@pytest.mark.parametrize("family", ["postgresql", "mariadb"])
def test_snapshot_while_writing(rdb: RdbV1API, family: str) -> None:
    client = CLIENTS[family]
    source = create(rdb, client, f"snap-src-{family}", ha=False)
    made: list[str] = []
    snapshot_id = None
    try:
        with writing(source) as loop:
            loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=30)
            before = set(loop.acknowledged)  # committed before the snapshot request
            taken = rdb.create_snapshot(instance_id=source.instance_id, name=f"snp-{family}")
            snapshot_id = taken.id
            assert taken.status == "creating" and not taken.size  # null until stored
            assert rdb.get_instance(instance_id=source.instance_id).status == "snapshotting"
            ready = rdb.wait_for_snapshot(snapshot_id=taken.id, options=wait())
            progress = len(loop.acknowledged)
            loop.wait_for_progress(after=progress + 5, timeout=30)  # writes never stopped
        assert ready.status == "ready" and ready.size and ready.size > 0
        assert ready.instance_id == source.instance_id
        assert ready.instance_name == f"snap-src-{family}" and ready.node_type == "db-dev-s"
        assert ready.expires_at and ready.expires_at > datetime.now(UTC) + timedelta(days=364)
        assert rdb.get_instance(instance_id=source.instance_id).status == "ready"
        _archive_holds_data_only(family, taken.id, ready.size)

        # read, list, update
        renamed = rdb.update_snapshot(
            snapshot_id=taken.id, name="renamed", expires_at=datetime.now(UTC) + timedelta(days=2)
        )
        assert renamed.name == "renamed" and renamed.expires_at is not None
        listed = rdb.list_snapshots(instance_id=source.instance_id, name="renam")
        assert [s.id for s in listed.snapshots] == [taken.id] and listed.total_count == 1
        assert rdb.list_snapshots(name="no-such-snapshot").total_count == 0
        with pytest.raises(ScalewayException) as bad:
            rdb.list_snapshots(order_by="size_asc")  # type: ignore[arg-type]
        assert bad.value.status_code == 400

        # kept after its instance is deleted
        delete(rdb, source.instance_id)
        assert rdb.get_snapshot(snapshot_id=taken.id).status == "ready"

        ha = True  # MariaDB: its standby copied from a main node that started on a physical copy
        new = rdb.create_instance_from_snapshot(
            snapshot_id=taken.id, instance_name=f"from-snap-{family}", is_ha_cluster=ha
        )
        made.append(new.id)
        assert new.id != source.instance_id and new.status == "provisioning"
        restored = rdb.wait_for_instance(instance_id=new.id, options=wait())
        assert restored.status == "ready", (restored.status, _errors(new.id))
        assert restored.is_ha_cluster == ha
        assert rdb.get_snapshot(snapshot_id=taken.id).status == "ready"  # no longer restoring
        live = Live(new.id, restored.endpoints[0].port, client)
        assert before <= ids(live)  # with the source's admin user and password
        _consistent(family, live)
        with closing(client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
            client.insert_committed(conn, -1)  # a primary of its own
        assert -1 in ids(live)

        if family == "postgresql":
            deleting = rdb.delete_snapshot(snapshot_id=taken.id)
            assert deleting.status == "deleting"
        else:  # the expiry sweep (the periodic reconcile calls it)
            with session_factory()() as session:
                row = session.get(Snapshot, taken.id)
                assert row is not None
                row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
                session.commit()
            assert snapshot_jobs.expire(session_factory())
        _gone(rdb, taken.id)
        snapshot_id = None
        assert not _stored(taken.id)
    finally:
        for instance_id in made:
            delete(rdb, instance_id)
        if snapshot_id is not None:
            with suppress(ScalewayException):
                rdb.wait_for_snapshot(snapshot_id=snapshot_id, options=wait())
                rdb.delete_snapshot(snapshot_id=snapshot_id)
        with suppress(ScalewayException):  # else deleted by the test
            delete(rdb, source.instance_id)
