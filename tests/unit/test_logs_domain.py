"""Instance logs (pure): days of lines, keys and names, requested days, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from controlplane.domain import logs
from controlplane.domain.errors import InvalidArguments

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "day"),
    [
        (b"2026-11-29 23:59:59.120 UTC [42] ERROR:  boom\n", date(2026, 11, 29)),
        (b"2026-11-30  7:46:48 5 [Note] Replication started\n", date(2026, 11, 30)),
        (b"# Time: 2026-11-28T10:00:00.123456Z\n", date(2026, 11, 28)),
        (b"# Time: 261127  9:01:02\n", date(2026, 11, 27)),
        (b"\tSTATEMENT:  SELECT 1/0\n", None),
        (b"2026-13-40 00:00:00 nonsense\n", None),
    ],
)
def test_line_day(line: bytes, day: date | None) -> None:
    assert logs.line_day(line) == day


def test_split_days_keeps_continuations_with_their_line() -> None:
    data = (
        b"statement continued from before\n"
        b"2026-11-29 23:59:59.900 UTC [1] ERROR:  division by zero\n"
        b"\tSTATEMENT:  SELECT 1/0\n"
        b"2026-11-30 00:00:00.100 UTC [1] LOG:  checkpoint starting\n"
    )
    pieces = logs.split_days(data, previous=date(2026, 11, 28), today=TODAY)
    assert [d for d, _ in pieces] == [date(2026, 11, 28), date(2026, 11, 29), TODAY]
    assert pieces[1][1].endswith(b"SELECT 1/0\n")
    assert b"".join(text for _, text in pieces) == data


def test_chunk_keys_are_positions_and_parse_back() -> None:
    key = logs.chunk_key("i1", "n2", TODAY, inode=0x1F, offset=4096)
    assert key == "logs/i1/n2/2026-11-30/chunks/1f-0000000000001000.gz"
    assert logs.chunk_place("i1", key) == logs.ChunkPlace("n2", TODAY)
    assert logs.chunk_place("i1", logs.day_object_key("i1", "n2", TODAY, "g")) is None


def test_log_names() -> None:
    assert logs.log_name("postgresql", "n1", TODAY) == "postgresql-n1-2026-11-30.log"
    assert logs.parse_log_name("mariadb-n2-2026-11-29.log") == ("n2", date(2026, 11, 29))
    for bad in ("n1-2026-11-30.log", "postgresql-n1-2026-13-01.log", "../etc/passwd"):
        assert logs.parse_log_name(bad) is None
    name = logs.export_file_name("postgresql", "n1", date(2026, 11, 28), TODAY)
    assert name == "postgresql-n1-2026-11-28_2026-11-30.log"


def test_requested_days_are_whole_days() -> None:
    assert logs.requested_days(None, None, NOW) == (TODAY, TODAY)
    start = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
    assert logs.requested_days(start, None, NOW) == (date(2026, 11, 28), TODAY)
    end = datetime(2026, 12, 5, tzinfo=UTC)  # the future: up to today
    assert logs.requested_days(start, end, NOW) == (date(2026, 11, 28), TODAY)
    for bad in [(NOW, NOW - timedelta(hours=1)), (NOW - timedelta(days=40), None)]:
        with pytest.raises(InvalidArguments):
            logs.requested_days(*bad, NOW)


def test_retention_by_age_then_size_keeps_today() -> None:
    days = [(TODAY - timedelta(days=n), 100) for n in range(10)]
    assert logs.to_remove(days, TODAY, None, None) == []
    by_age = logs.to_remove(days, TODAY, 7, None)
    assert by_age == [TODAY - timedelta(days=9), TODAY - timedelta(days=8)]
    by_size = logs.to_remove(days, TODAY, None, 350)
    assert sorted(by_size) == sorted(TODAY - timedelta(days=n) for n in range(3, 10))
    assert logs.to_remove([(TODAY, 10_000)], TODAY, 1, 1) == []
