"""Instance metrics (pure): the names the sampler records, the window a request asks for, and
time series assembled from samples.

Dates are read leniently: RFC 3339 as the Go SDK sends it (``2025-01-01T00:00:00Z``),
``str(datetime)`` as the Python SDK does (``2025-01-01 00:00:00+00:00``), naive ones as UTC.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.errors import InvalidArguments

# Per node; each sample is one value at the time of a sampling round (workers/metrics_sampler.py).
CPU_USAGE_PERCENT = "cpu_usage_percent"  # of the node type's vCPUs, since the previous round
MEMORY_USAGE_PERCENT = "memory_usage_percent"  # of the node type's memory, page cache left out
DISK_USAGE_PERCENT = "disk_usage_percent"  # of the data volume (block volume types)
DISK_USED_BYTES = "disk_used_bytes"
CONNECTIONS = "connections"  # client sessions open, the control plane's own left out
WRITE_TRANSACTIONS_PER_SECOND = "write_transactions_per_second"  # since the previous round
REPLICATION_LAG_BYTES = "replication_lag_bytes"  # followers, as their primary reported it

DEFAULT_SPAN = timedelta(hours=1)
MAX_POINTS = 1000  # per series; longer ones are averaged over consecutive samples

Point = tuple[datetime, float]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Sample:
    node: str
    name: str
    at: datetime
    value: float


@dataclass(frozen=True)
class Series:
    name: str
    node: str
    points: list[Point]


# A "+" sent unescaped in a query string arrives as a space: "... 00:00:00 00:00".
_SPACE_FOR_PLUS = re.compile(
    r"^(?P<stamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (?P<offset>\d{2}:?\d{2})$"
)


def parse_date(text: str) -> datetime:
    """An aware UTC datetime; ``ValueError`` when ``text`` is not a date."""
    candidate = text.strip()
    spaced = _SPACE_FOR_PLUS.match(candidate)
    if spaced:
        candidate = f"{spaced['stamp']}+{spaced['offset']}"
    try:
        value = datetime.fromisoformat(candidate)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(str(exc)) from exc


def window(start_date: str | None, end_date: str | None, now: datetime) -> Window:
    """The period asked for: ``end_date`` defaults to now, ``start_date`` to an hour before the
    end; an empty value means "not given". ``InvalidArguments`` for what is not a date, or an
    end before the start."""
    errors: list[ArgumentError] = []
    parsed: dict[str, datetime | None] = {}
    for argument, text in (("start_date", start_date), ("end_date", end_date)):
        try:
            parsed[argument] = parse_date(text) if text else None
        except ValueError:
            help_message = f"{text!r} is not a date (RFC 3339, e.g. 2025-01-01T00:00:00Z)"
            errors.append(ArgumentError(argument, Reason.FORMAT, help_message))
    if errors:
        raise InvalidArguments(errors)
    end = parsed["end_date"] or now
    start = parsed["start_date"] or _before(end, DEFAULT_SPAN)
    if end < start:
        raise InvalidArguments.one("end_date", "end_date must not be before start_date")
    return Window(start, end)


def _before(moment: datetime, span: timedelta) -> datetime:
    try:
        return moment - span
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def series(samples: Iterable[Sample], max_points: int = MAX_POINTS) -> list[Series]:
    """One series per (metric, node), ordered by metric then node, points oldest first."""
    grouped: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for sample in samples:
        grouped[(sample.name, sample.node)].append((sample.at, sample.value))
    return [
        Series(name, node, downsample(sorted(points), max_points))
        for (name, node), points in sorted(grouped.items())
    ]


def downsample(points: list[Point], max_points: int) -> list[Point]:
    """At most ``max_points``: runs of consecutive points become their mean, stamped with the
    run's last time (a value "up to" that moment)."""
    if len(points) <= max_points:
        return points
    size = -(-len(points) // max_points)
    runs = (points[i : i + size] for i in range(0, len(points), size))
    return [(run[-1][0], sum(value for _, value in run) / len(run)) for run in runs]
