"""Archived WAL and binlogs older than an instance's oldest snapshot are trimmed: against the
real metadata database (snapshot rows, the markers their jobs recorded) and a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete

from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation, Snapshot
from controlplane.db.session import session_factory, session_scope
from controlplane.logstore.filesystem import FilesystemStore
from controlplane.services.snapshots import source_of
from tests.support.rows import instance_row
from tests.support.tenants import new_tenant
from workers import archive_trim

SEGMENTS = [f"0000000100000000000000{n:02X}" for n in range(1, 7)]


def _snapshot(instance_id: str, age_minutes: int, marker: dict[str, str] | None) -> str:
    now = utcnow()
    with session_scope() as session:
        source = session.get(Instance, instance_id)
        assert source is not None
        row = Snapshot(
            organization_id=source.organization_id, project_id=source.project_id,
            region="fr-par", instance_id=instance_id, instance_name=source.name, name="s",
            status="ready", engine=source.engine, node_type="db-dev-s", volume_type="lssd",
            source=source_of(source), size=1, object_key="snapshots/x", checksum="0" * 64,
            created_at=now - timedelta(minutes=age_minutes), updated_at=now,
            expires_at=now + timedelta(days=1),
        )  # fmt: skip
        session.add(row)
        session.flush()
        params = {} if marker is None else {archive_trim.MARKER: marker}
        session.add(Operation(kind="create_snapshot", resource_type="snapshot",
                              resource_id=row.id, status="succeeded", params=params))  # fmt: skip
        return row.id


def test_files_stored_before_the_oldest_snapshot_started_go(tmp_path: Path) -> None:
    tenant = new_tenant("trim")
    pg, maria = instance_row(tenant, name="trim-pg"), instance_row(tenant, name="trim-my")
    store = FilesystemStore(str(tmp_path))
    for name in [*SEGMENTS, "00000002.history", SEGMENTS[1] + ".00000028.backup"]:
        store.put(f"wal/{pg}/{name}", b"w")
    for lineage, last in (("11", 4), ("22", 3)):  # a failover: the new main's own lineage
        for n in range(1, last + 1):
            store.put(f"binlog/{maria}/{lineage}/binlog.{n:06d}", b"b")
    # what each snapshot job saw stored when it started
    wal_marker = archive_trim.marker(store, pg) | {f"wal/{pg}": SEGMENTS[2]}
    assert archive_trim.marker(store, maria) == {
        f"binlog/{maria}/11": "binlog.000004",
        f"binlog/{maria}/22": "binlog.000003",
    }
    made = [
        _snapshot(pg, 30, wal_marker),
        _snapshot(pg, 10, {f"wal/{pg}": SEGMENTS[4]}),  # a later one: the oldest decides
        _snapshot(maria, 20, {f"binlog/{maria}/11": "binlog.000002"}),
        _snapshot(maria, 40, None),  # older, its marker never recorded: nothing goes yet
    ]
    try:
        assert archive_trim.trim(session_factory(), store) == 3
        left = sorted(o.key.rsplit("/", 1)[-1] for o in store.objects(f"wal/{pg}/"))
        assert left == sorted([*SEGMENTS[3:], "00000002.history",
                               SEGMENTS[1] + ".00000028.backup"])  # fmt: skip
        assert len(store.objects(f"binlog/{maria}/")) == 7
        with session_scope() as session:  # the unmarked one gone: the next oldest decides
            session.execute(delete(Operation).where(Operation.resource_id == made[3]))
            session.execute(delete(Snapshot).where(Snapshot.id == made[3]))
        assert archive_trim.trim(session_factory(), store) == 2
        assert sorted(o.key for o in store.objects(f"binlog/{maria}/")) == [
            f"binlog/{maria}/11/binlog.000003", f"binlog/{maria}/11/binlog.000004",
            *(f"binlog/{maria}/22/binlog.{n:06d}" for n in (1, 2, 3)),
        ]  # fmt: skip
        assert archive_trim.trim(session_factory(), store) == 0  # idempotent
    finally:
        with session_scope() as session:
            session.execute(delete(Operation).where(Operation.resource_id.in_(made)))
            session.execute(delete(Snapshot).where(Snapshot.id.in_(made)))
