"""MariaDB physical snapshots and binlog replay: the pure renderings and parsers."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agents.mysql import physical
from controlplane import backup_crypto
from controlplane.logstore.filesystem import FilesystemStore
from workers import binlog_archive
from workers.binlog_archive import closed_binlogs, server_id


def test_stop_datetime_truncates_the_target_to_its_second() -> None:
    """Events stamped in the target's second are replayed, the next second's are not."""
    at = datetime(2026, 11, 30, 14, 0, 5, 700_000, tzinfo=UTC)
    assert physical.stop_datetime(at) == "2026-11-30 14:00:06"
    assert physical.stop_datetime(at.replace(microsecond=0)) == "2026-11-30 14:00:06"
    paris = at.astimezone(timezone(timedelta(hours=1)))
    assert physical.stop_datetime(paris) == "2026-11-30 14:00:06"  # always UTC


def test_server_id_is_the_last_one_of_the_init_file() -> None:
    init = '[mariadbd]\nlower_case_table_names = "1"\nserver_id = 123\n'
    assert server_id(init) == "123"
    assert server_id('[mariadbd]\nserver_id = "7"\nserver_id = 9\n') == "9"
    assert server_id("[mariadbd]\n") is None


def test_closed_binlogs_leave_out_the_current_one() -> None:
    index = "/var/lib/mysql/data/binlog.000001\n/var/lib/mysql/data/binlog.000002\n"
    assert closed_binlogs(index) == ["binlog.000001"]
    assert closed_binlogs("") == []


def test_scripts_parse_and_quote_their_inputs() -> None:
    replay = physical.replay_script("2026-11-30T14:00:05.7+00:00", "/dbaas-exchange/wal")
    assert "--stop-datetime='2026-11-30 14:00:06'" in replay
    assert "--skip-log-bin" in replay and "--skip-networking" in replay
    prepare = physical.prepare_script("/dbaas-exchange", "snapshot.tar.gz")
    for script in (replay, prepare):
        assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
    assert physical.pitr_script("2026-11-30T14:00:05+00:00", "/x").startswith("bash -c ")
    assert "--stream=xbstream" in physical.backup_command()


def test_the_collector_stores_closed_binlogs_once_under_their_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = backup_crypto.instance_key("deployment-key", "instance-a")
    monkeypatch.setattr(backup_crypto, "current_key", lambda instance_id: key)
    (tmp_path / "conf").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "conf" / "05-init.cnf").write_text("[mariadbd]\nserver_id = 42\n")
    for name in ("binlog.000001", "binlog.000002", "binlog.000003"):
        (tmp_path / "data" / name).write_bytes(name.encode() * 1000)
    index = "".join(f"/var/lib/mysql/data/binlog.00000{n}\n" for n in (1, 2, 3))
    (tmp_path / "data" / "binlog.index").write_text(index)
    store = FilesystemStore(str(tmp_path / "store"))
    main = binlog_archive.MainNode("instance-a", tmp_path)
    assert binlog_archive.collect(store, main) == 2  # the current (last) one is still written
    assert binlog_archive.collect(store, main) == 0  # stored already: positions kept
    stored = store.get("binlog/instance-a/42/binlog.000002")
    assert stored.startswith(backup_crypto.MAGIC)
    assert b"".join(backup_crypto.decrypt([stored], [key])) == b"binlog.000002" * 1000
    assert len(list((tmp_path / "data").iterdir())) == 4  # the node keeps its files
    # closed before the oldest snapshot was requested: never replayed, never uploaded
    (tmp_path / "data" / "binlog.index").write_text(index + "/var/lib/mysql/data/binlog.000004\n")
    (tmp_path / "data" / "binlog.000004").write_bytes(b"new")
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert (
        binlog_archive.collect(store, binlog_archive.MainNode("instance-a", tmp_path, later)) == 0
    )
    assert binlog_archive.collect(store, main) == 1
