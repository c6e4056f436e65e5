"""A worker SIGKILLed while a logical backup streams out of the node (the
``backup_streaming`` fault point holds it there, a partly written dump on its disk): the
backup ends ``error`` or completes on the retry the sweeper hands to the restarted worker,
and nothing half-written is ever restorable: while the backup is not ``ready`` the store holds
no object for it and a restore is refused; once ``ready`` it restores every row."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import RdbV1API

from controlplane.db.models import DatabaseBackup
from controlplane.db.session import session_factory
from controlplane.logstore import get_store
from controlplane.settings import get_settings
from tests.e2e.clients import CLIENTS
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete
from tests.support.processes import Service

ROWS = 200_000  # a 40 MB table, a 5 MB dump: still streaming when the worker dies
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def pg(rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS["postgresql"], "fault-pg-backup", ha=False)
    _sql(live, "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS payload "
               f"FROM generate_series(1, {ROWS}) AS g")  # fmt: skip
    yield live
    for backup in rdb.list_database_backups_all(instance_id=live.instance_id):
        if backup.status in ("creating", "restoring", "exporting"):
            rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
        rdb.delete_database_backup(database_backup_id=backup.id)
    delete(rdb, live.instance_id)


def _sql(live: Live, statement: str, database: str = "rdb") -> Any:
    with psycopg.connect(host="127.0.0.1", port=live.port, user=USER, password=PASSWORD,
                         dbname=database, autocommit=True, connect_timeout=10) as conn:  # fmt: skip
        cursor = conn.execute(statement)
        return cursor.fetchone() if cursor.description else None


def _row(backup_id: str) -> DatabaseBackup:
    with session_factory()() as session:
        row = session.get(DatabaseBackup, backup_id)
        assert row is not None
        session.expunge(row)
        return row


def _stored(row: DatabaseBackup) -> bool:
    return bool(row.object_key and get_store().objects(row.object_key))


def _partial_dumps() -> list[Path]:
    """Dumps a worker is writing (or was, when it died): on its disk, never in the store."""
    work = get_settings().state_dir / "backup-work"
    return [p for p in work.glob("*/backup.enc") if p.stat().st_size > 0] if work.is_dir() else []


def _until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _restore_refused(rdb: RdbV1API, backup_id: str, instance_id: str) -> None:
    with pytest.raises(ScalewayException) as refused:
        rdb.restore_database_backup(
            database_backup_id=backup_id, instance_id=instance_id, database_name="half"
        )
    assert refused.value.status_code in (400, 409, 412), refused.value


def test_worker_killed_mid_backup(pg: Live, worker: Service, rdb: RdbV1API) -> None:
    worker.stop()
    worker.env["DBAAS_FAULT_PAUSE"] = "backup_streaming:60"
    worker.start()
    try:
        backup = rdb.create_database_backup(
            instance_id=pg.instance_id, database_name="rdb", name="killed-mid-dump"
        )
        _until(lambda: _partial_dumps(), "the dump never started streaming")
        row = _row(backup.id)
        assert row.status == "creating" and not _stored(row) and row.checksum is None
        _restore_refused(rdb, backup.id, pg.instance_id)
        worker.kill()  # SIGKILL, the dump half-written on the worker's disk
        del worker.env["DBAAS_FAULT_PAUSE"]
        _restore_refused(rdb, backup.id, pg.instance_id)
        assert not _stored(_row(backup.id))
        worker.start()
    finally:
        worker.env.pop("DBAAS_FAULT_PAUSE", None)
        if not worker.running:
            worker.start()
    deadline = time.monotonic() + 120
    while (row := _row(backup.id)).status == "creating":
        assert time.monotonic() < deadline, "the interrupted backup never settled"
        time.sleep(0.5)
    assert not _partial_dumps(), "the killed attempt's partial dump lingers on the worker"
    if row.status == "error":
        assert not _stored(row), "a failed backup left an object in the store"
        return
    assert row.status == "ready" and _stored(row) and row.size, row
    rdb.restore_database_backup(
        database_backup_id=backup.id, instance_id=pg.instance_id, database_name="restored"
    )
    done = rdb.wait_for_database_backup(database_backup_id=backup.id, options=wait())
    assert done.status == "ready" and _row(backup.id).status_reason is None
    assert rdb.wait_for_instance(instance_id=pg.instance_id, options=wait()).status == "ready"
    assert _sql(pg, "SELECT count(*), sum(length(payload)) FROM big", "restored") == (
        ROWS, ROWS * 128)  # fmt: skip
