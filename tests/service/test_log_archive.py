"""The log archive on a real filesystem store and metadata store: a past day closes into one
object (with an injected clock), a compaction cut short neither loses nor doubles a line,
retention by age and by size, purge by name and all, details sizes match the stored files."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from controlplane.db.models import Instance, LogDay
from controlplane.db.session import session_factory, session_scope
from controlplane.domain import logs
from controlplane.logstore.filesystem import FilesystemStore
from controlplane.services import log_archive
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

TODAY = date(2026, 11, 30)
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("log-archive")


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(str(tmp_path / "store"))


@pytest.fixture
def instance_id(tenant: Tenant) -> Iterator[str]:
    yield instance_row(tenant, name="logs")


def _chunk(store: FilesystemStore, instance_id: str, node: str, day: date, offset: int,
           text: bytes) -> str:  # fmt: skip
    key = logs.chunk_key(instance_id, node, day, inode=7, offset=offset)
    store.put(key, gzip.compress(text))
    return key


def _read(store: FilesystemStore, instance_id: str, node: str, day: date) -> bytes:
    with session_factory()() as session:
        return log_archive.read_days(session, store, instance_id, node, [day])


def test_a_past_day_closes_into_one_object(store: FilesystemStore, instance_id: str) -> None:
    _chunk(store, instance_id, "n1", YESTERDAY, 0, b"line 1\n")
    _chunk(store, instance_id, "n1", YESTERDAY, 7, b"line 2\n")
    _chunk(store, instance_id, "n1", TODAY, 14, b"line 3\n")
    with session_factory()() as session:
        assert log_archive.close_days(session, store, instance_id, TODAY) == 1
    keys = [o.key for o in store.objects(logs.instance_prefix(instance_id))]
    assert [k for k in keys if "/2026-11-29/" in k] == [
        k for k in keys if k.endswith(".log.gz") and "/2026-11-29/" in k
    ]  # the chunks of the closed day are gone, one object left
    assert _read(store, instance_id, "n1", YESTERDAY) == b"line 1\nline 2\n"
    assert _read(store, instance_id, "n1", TODAY) == b"line 3\n"  # today stays open
    # a late chunk of the closed day joins it at the next pass
    _chunk(store, instance_id, "n1", YESTERDAY, 21, b"line 4\n")
    assert _read(store, instance_id, "n1", YESTERDAY) == b"line 1\nline 2\nline 4\n"
    with session_factory()() as session:
        assert log_archive.close_days(session, store, instance_id, TODAY) == 1
    assert _read(store, instance_id, "n1", YESTERDAY) == b"line 1\nline 2\nline 4\n"


def test_a_compaction_cut_short_counts_no_line_twice(
    store: FilesystemStore, instance_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chunk(store, instance_id, "n1", YESTERDAY, 0, b"only once\n")

    def crash(*args: object) -> None:
        raise RuntimeError("killed after the row was committed")

    monkeypatch.setattr(log_archive, "_drop_merged_chunks", crash)
    with session_factory()() as session, pytest.raises(RuntimeError):
        log_archive.close_days(session, store, instance_id, TODAY)
    monkeypatch.undo()
    assert _read(store, instance_id, "n1", YESTERDAY) == b"only once\n"
    with session_factory()() as session:
        log_archive.close_days(session, store, instance_id, TODAY)
    assert _read(store, instance_id, "n1", YESTERDAY) == b"only once\n"
    chunks = store.objects(logs.chunks_prefix(instance_id, "n1", YESTERDAY))
    assert chunks == []


def _days(instance_id: str, store: FilesystemStore) -> list[tuple[str, date]]:
    with session_factory()() as session:
        return [(d.node, d.day) for d in log_archive.days(session, store, instance_id)]


def test_retention_by_age_and_by_size(store: FilesystemStore, instance_id: str) -> None:
    for n in range(5):
        _chunk(store, instance_id, "n1", TODAY - timedelta(days=n), 0, b"x" * 1000 + b"\n")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.logs_max_age_retention, row.logs_total_disk_retention = 3, None
    with session_factory()() as session:
        log_archive.close_days(session, store, instance_id, TODAY)
        instance = session.get(Instance, instance_id)
        assert instance is not None
        log_archive.apply_retention(session, store, instance, TODAY)
    assert [d for _, d in _days(instance_id, store)] == [TODAY - timedelta(days=n)
                                                          for n in (3, 2, 1, 0)]  # fmt: skip
    sizes = {d.day: d.size for d in log_archive.days(session_factory()(), store, instance_id)}
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.logs_max_age_retention = None
        row.logs_total_disk_retention = sizes[TODAY] + sizes[YESTERDAY]
    with session_factory()() as session:
        instance = session.get(Instance, instance_id)
        assert instance is not None
        log_archive.apply_retention(session, store, instance, TODAY)
    assert [d for _, d in _days(instance_id, store)] == [YESTERDAY, TODAY]


def test_purge_by_name_and_all_and_details_match_files(
    store: FilesystemStore, instance_id: str
) -> None:
    for node in ("n1", "n2"):
        _chunk(store, instance_id, node, YESTERDAY, 0, b"old\n")
        _chunk(store, instance_id, node, TODAY, 4, b"new\n")
    with session_factory()() as session:
        log_archive.close_days(session, store, instance_id, TODAY)
        details = log_archive.days(session, store, instance_id)
        stored = {o.key: o.size for o in store.objects(logs.instance_prefix(instance_id))}
        rows = {(r.node_name, r.day): r for r in session.scalars(select(LogDay))}
        for d in details:
            if d.closed:
                assert d.size == stored[rows[(d.node, d.day)].object_key]
            else:
                prefix = logs.chunks_prefix(instance_id, d.node, d.day)
                assert d.size == sum(s for k, s in stored.items() if k.startswith(prefix))
        name = logs.log_name("postgresql", "n2", YESTERDAY)
        assert log_archive.purge(session, store, instance_id, name)
        assert not log_archive.purge(session, store, instance_id, name)  # gone already
        assert not log_archive.purge(session, store, instance_id, "nonsense.log")
    assert (("n2", YESTERDAY)) not in _days(instance_id, store)
    assert ("n1", YESTERDAY) in _days(instance_id, store)
    with session_factory()() as session:
        assert log_archive.purge(session, store, instance_id, None)
    assert _days(instance_id, store) == []
    assert store.objects(logs.instance_prefix(instance_id)) == []
