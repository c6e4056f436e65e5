"""Point-in-time recovery, the pure parts: the archiving settings every PostgreSQL node gets,
the recovery script of a restore, and the collector storing then removing complete segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agents.postgres import conf
from controlplane import backup_crypto
from controlplane.logstore.filesystem import FilesystemStore
from controlplane.services.pitr import as_utc
from workers import wal_archive

KEY = backup_crypto.instance_key("deployment-key", "instance-a")
SEGMENT = "000000010000000000000003"


def test_every_node_archives_completed_segments_at_least_every_minute() -> None:
    text = conf.base_conf(1 << 30)
    assert "archive_mode = on" in text and "archive_timeout = 60" in text
    # a temporary name renamed: the collector never reads a partial copy
    assert f"{conf.WAL_ARCHIVE_DIR}/%f.part && mv" in conf.ARCHIVE_COMMAND


def test_the_recovery_script_stops_at_the_target_then_cleans_up() -> None:
    script = conf.pitr_script("16", "2026-11-30T12:00:00+00:00", "/dbaas-exchange/wal")
    assert "touch /var/lib/postgresql/16/data/recovery.signal" in script
    assert "rm -f /var/lib/postgresql/16/data/standby.signal" in script
    for setting in ("recovery_target_time", "2026-11-30T12:00:00+00:00", "promote",
                    "recovery_end_command", conf.PITR_CONF):  # fmt: skip
        assert setting in script


def test_times_without_an_offset_are_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 12)) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    assert as_utc(datetime(2026, 1, 1, 13, tzinfo=paris)) == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_the_collector_stores_complete_files_encrypted_then_removes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_crypto, "current_key", lambda instance_id: KEY)
    archive = tmp_path / "wal-archive"
    archive.mkdir()
    (archive / SEGMENT).write_bytes(b"wal" * 1000)
    (archive / "000000010000000000000004.part").write_bytes(b"half")
    store = FilesystemStore(str(tmp_path / "store"))
    assert wal_archive.collect(store, wal_archive.Archive("instance-a", archive)) == 1
    stored = store.get(f"wal/instance-a/{SEGMENT}")
    assert stored.startswith(backup_crypto.MAGIC)
    assert b"".join(backup_crypto.decrypt([stored], [KEY])) == b"wal" * 1000
    assert [p.name for p in archive.iterdir()] == ["000000010000000000000004.part"]


def test_without_a_base_backup_segments_are_dropped_not_stored(tmp_path: Path) -> None:
    archive = tmp_path / "wal-archive"
    archive.mkdir()
    (archive / SEGMENT).write_bytes(b"wal")
    store = FilesystemStore(str(tmp_path / "store"))
    assert wal_archive.collect(store, wal_archive.Archive("instance-a", archive, False)) == 0
    assert not store.objects("wal/") and not list(archive.iterdir())
