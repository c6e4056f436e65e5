"""Instance logs (pure): the day a log line belongs to, where collected pieces and closed days
live in the log store, the names users see, the days a request covers, what retention removes.

Store layout (keys; ``<day>`` is YYYY-MM-DD, UTC):
    logs/<instance>/<node>/<day>/chunks/<inode>-<offset>.gz   collected, not yet closed
    logs/<instance>/<node>/<day>/<day>-<generation>.log.gz    the closed day (log_days row)
    exports/<instance log id>.log                              prepared for download (24 h)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from controlplane.domain.errors import InvalidArguments

# The timestamps our engines start lines with (PostgreSQL log_line_prefix %m, MariaDB error
# log, MariaDB slow log in both of its formats).
_DATED = [
    re.compile(rb"^(\d{4})-(\d{2})-(\d{2})[ T]"),
    re.compile(rb"^# Time: (\d{4})-(\d{2})-(\d{2})T"),
    re.compile(rb"^# Time: (\d{2})(\d{2})(\d{2}) "),
]
_NAME = re.compile(r"^(?P<family>[a-z]+)-(?P<node>[a-z0-9]+)-(?P<day>\d{4}-\d{2}-\d{2})\.log$")


def line_day(line: bytes) -> date | None:
    for pattern in _DATED:
        match = pattern.match(line)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year + 2000 if year < 100 else year, month, day)
            except ValueError:
                return None
    return None


def split_days(data: bytes, previous: date | None, today: date) -> list[tuple[date, bytes]]:
    """Complete lines grouped by day, in order. A line without a date (a statement continued
    on the next line) belongs to the day of the line before it; the first ones to
    ``previous`` (the last day this file was read at), else ``today``."""
    current = previous or today
    pieces: list[tuple[date, bytearray]] = []
    for line in data.splitlines(keepends=True):
        current = line_day(line) or current
        if not pieces or pieces[-1][0] != current:
            pieces.append((current, bytearray()))
        pieces[-1][1].extend(line)
    return [(day, bytes(text)) for day, text in pieces]


def instance_prefix(instance_id: str) -> str:
    return f"logs/{instance_id}/"


def day_prefix(instance_id: str, node: str, day: date) -> str:
    return f"logs/{instance_id}/{node}/{day.isoformat()}/"


def chunks_prefix(instance_id: str, node: str, day: date) -> str:
    return f"{day_prefix(instance_id, node, day)}chunks/"


def chunk_key(instance_id: str, node: str, day: date, inode: int, offset: int) -> str:
    """Named by where its bytes start in their file: collecting again from the same position
    writes the same key (a retry replaces, never duplicates)."""
    return f"{chunks_prefix(instance_id, node, day)}{inode:x}-{offset:016x}.gz"


def day_object_key(instance_id: str, node: str, day: date, generation: str) -> str:
    return f"{day_prefix(instance_id, node, day)}{day.isoformat()}-{generation}.log.gz"


@dataclass(frozen=True)
class ChunkPlace:
    node: str
    day: date


def chunk_place(instance_id: str, key: str) -> ChunkPlace | None:
    """Where a chunk belongs, from its key (None for anything else)."""
    rest = key.removeprefix(instance_prefix(instance_id)).split("/")
    if len(rest) != 4 or rest[2] != "chunks" or not rest[3].endswith(".gz"):
        return None
    try:
        return ChunkPlace(rest[0], date.fromisoformat(rest[1]))
    except ValueError:
        return None


def export_key(log_id: str) -> str:
    return f"exports/{log_id}.log"


def log_name(family: str, node: str, day: date) -> str:
    """What users see: ``postgresql-n1-2026-11-30.log``."""
    return f"{family}-{node}-{day.isoformat()}.log"


def parse_log_name(name: str) -> tuple[str, date] | None:
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        return match["node"], date.fromisoformat(match["day"])
    except ValueError:
        return None


def export_file_name(family: str, node: str, first: date, last: date) -> str:
    if first == last:
        return log_name(family, node, first)
    return f"{family}-{node}-{first.isoformat()}_{last.isoformat()}.log"


MAX_DAYS = 31


def requested_days(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[date, date]:
    """Whole days (00:00-23:59 UTC) covering what was asked; by default the current day. A
    range ending before it starts, or longer than a month, is refused."""
    first = (start or now).date()
    last = min((end or now).date(), now.date())
    if end is not None and start is not None and end < start:
        raise InvalidArguments.one("end_date", "end_date is before start_date")
    if first > last:
        raise InvalidArguments.one("start_date", "start_date is after the current day")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidArguments.one("end_date", f"at most {MAX_DAYS} days at once")
    return first, last


def to_remove(
    days: list[tuple[date, int]], today: date, max_age_days: int | None, total_bytes: int | None
) -> list[date]:
    """Retention of a node's days (oldest first): those older than ``max_age_days``, then the
    oldest until the rest fits in ``total_bytes``. The current day is never removed."""
    ordered = sorted(days)
    removed = []
    if max_age_days:
        oldest_kept = today - timedelta(days=max_age_days)
        removed = [day for day, _ in ordered if day < oldest_kept]
    kept = [(day, size) for day, size in ordered if day not in removed]
    if total_bytes:
        total = sum(size for _, size in kept)
        for day, size in kept:
            if total <= total_bytes or day >= today:
                break
            removed.append(day)
            total -= size
    return removed
