"""Both log stores against one contract (``controlplane.logstore.base.LogStore``): the
filesystem store on a temporary directory, the S3 store on a real SeaweedFS server."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from controlplane.logstore.base import LogStore, StoredObject
from controlplane.logstore.filesystem import FilesystemStore

DAY = "logs/i1/node-0/2026-11-30"


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LogStore:
    if request.param == "filesystem":
        return FilesystemStore(str(tmp_path / "logs"))
    store: LogStore = request.getfixturevalue("s3_store")
    return store


def test_put_then_get_returns_the_same_bytes(store: LogStore) -> None:
    data = gzip.compress(b"2026-11-30 12:00:00 UTC LOG:  ready\n" * 100) + bytes(range(256))
    store.put(f"{DAY}/2026-11-30-1.log.gz", data)
    assert store.get(f"{DAY}/2026-11-30-1.log.gz") == data


def test_put_again_replaces_the_object_whole(store: LogStore) -> None:
    store.put(f"{DAY}/chunks/7-0.gz", os.urandom(10_000))
    store.put(f"{DAY}/chunks/7-0.gz", b"new")
    assert store.get(f"{DAY}/chunks/7-0.gz") == b"new"
    assert store.objects(f"{DAY}/") == [StoredObject(f"{DAY}/chunks/7-0.gz", 3)]


def test_a_missing_key_is_a_key_error(store: LogStore) -> None:
    store.put(f"{DAY}/present.gz", b"x")
    with pytest.raises(KeyError):
        store.get(f"{DAY}/absent.gz")
    with pytest.raises(KeyError):
        list(store.stream(f"{DAY}/absent.gz"))


def test_objects_are_those_under_the_prefix_sorted_with_sizes(store: LogStore) -> None:
    stored = {
        "logs/i2/node-0/a.gz": b"22",
        "logs/i1/node-1/b.gz": b"1",
        "logs/i10/node-0/a.gz": b"10",
        "logs/i1/node-0/c.gz": b"333",
        "exports/i1.log": b"4444",
    }
    for key, data in stored.items():
        store.put(key, data)

    assert store.objects("logs/i1/") == [
        StoredObject("logs/i1/node-0/c.gz", 3),
        StoredObject("logs/i1/node-1/b.gz", 1),
    ]
    assert [o.key for o in store.objects("logs/i1")] == [  # a prefix of strings, not folders
        "logs/i1/node-0/c.gz",
        "logs/i1/node-1/b.gz",
        "logs/i10/node-0/a.gz",
    ]
    assert [o.key for o in store.objects("")] == sorted(stored)
    assert store.objects("logs/i3/") == []


def test_delete_removes_those_keys_and_ignores_missing_ones(store: LogStore) -> None:
    for name in ("a", "b", "c"):
        store.put(f"{DAY}/{name}.gz", name.encode())
    store.delete([f"{DAY}/a.gz", f"{DAY}/c.gz", f"{DAY}/never.gz"])
    store.delete([])
    assert store.objects("logs/") == [StoredObject(f"{DAY}/b.gz", 1)]
    with pytest.raises(KeyError):
        store.get(f"{DAY}/a.gz")


def test_delete_prefix_removes_everything_under_it_only(store: LogStore) -> None:
    for key in ("logs/i1/n/a.gz", "logs/i1/n/b.gz", "logs/i1/m/c.gz", "logs/i10/n/a.gz"):
        store.put(key, b"x")
    store.delete_prefix("logs/i1/")
    assert [o.key for o in store.objects("")] == ["logs/i10/n/a.gz"]


def test_stream_yields_the_whole_object_in_chunks(store: LogStore) -> None:
    data = os.urandom(10_000)
    store.put(f"{DAY}/big.gz", data)
    chunks = list(store.stream(f"{DAY}/big.gz", chunk=4096))
    assert b"".join(chunks) == data
    assert len(chunks) == 3
    assert all(len(c) <= 4096 for c in chunks)
