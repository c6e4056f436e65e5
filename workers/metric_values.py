"""What one observation of a node gave, and the metric values it makes (pure).

Percentages and rates come from running counts (CPU seconds, write transactions) read at two
rounds: the previous round's counts are passed in. A count that went back (the container or
the engine restarted) gives no value this round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from controlplane.domain import metrics

CPU_SECONDS = "cpu_seconds"
WRITE_TRANSACTIONS = "write_transactions"


@dataclass(frozen=True)
class Count:
    """A running count and when it was read (monotonic seconds)."""

    value: float
    at: float


@dataclass(frozen=True)
class NodeReading:
    container_id: str
    counts: dict[str, Count]  # CPU_SECONDS, WRITE_TRANSACTIONS: those that could be read
    memory_bytes: int | None = None
    connections: int | None = None
    disk: tuple[int, int] | None = None  # (used, available) bytes of the data volume


def rate(previous: Count | None, current: Count) -> float | None:
    """Per second between two readings; None without a previous one, or when it went back."""
    if previous is None or current.at <= previous.at or current.value < previous.value:
        return None
    return (current.value - previous.value) / (current.at - previous.at)


def percent(part: float, whole: float) -> float | None:
    """``part`` of ``whole`` in percent, within 0..100, two decimals; None for no whole."""
    if whole <= 0:
        return None
    return round(min(100.0, max(0.0, 100.0 * part / whole)), 2)


def node_values(
    reading: NodeReading, previous: Mapping[str, Count], cpus: float, memory_bytes: int
) -> dict[str, float]:
    """Metric name -> value for what the reading holds; ``cpus`` and ``memory_bytes`` are the
    node type's (the container's limits)."""
    values: dict[str, float | None] = {}
    cpu = reading.counts.get(CPU_SECONDS)
    if cpu is not None:
        used = rate(previous.get(CPU_SECONDS), cpu)
        values[metrics.CPU_USAGE_PERCENT] = None if used is None else percent(used, cpus)
    if reading.memory_bytes is not None:
        values[metrics.MEMORY_USAGE_PERCENT] = percent(reading.memory_bytes, memory_bytes)
    if reading.disk is not None:
        used_bytes, available = reading.disk
        values[metrics.DISK_USED_BYTES] = float(used_bytes)
        values[metrics.DISK_USAGE_PERCENT] = percent(used_bytes, used_bytes + available)
    if reading.connections is not None:
        values[metrics.CONNECTIONS] = float(reading.connections)
    writes = reading.counts.get(WRITE_TRANSACTIONS)
    if writes is not None:
        per_second = rate(previous.get(WRITE_TRANSACTIONS), writes)
        values[metrics.WRITE_TRANSACTIONS_PER_SECOND] = (
            None if per_second is None else round(per_second, 3)
        )
    return {name: value for name, value in values.items() if value is not None}


def carried_counts(
    previous: Mapping[str, Mapping[str, Count]], readings: list[NodeReading], running: set[str]
) -> dict[str, dict[str, Count]]:
    """Container id -> the counts the next round compares with: this round's, else the last
    ones read of a container still running (an engine that did not answer this time); those of
    containers gone are forgotten."""
    carried = {cid: dict(counts) for cid, counts in previous.items() if cid in running}
    for reading in readings:
        carried.setdefault(reading.container_id, {}).update(reading.counts)
    return carried


def new_observations(
    observed: Mapping[str, tuple[datetime, float]], recorded: Mapping[str, datetime]
) -> dict[str, tuple[datetime, float]]:
    """Node -> (time, value) of observations made since the node's latest recorded sample
    (the replication lag the periodic reconcile observes, recorded once each)."""
    return {
        node: (at, value)
        for node, (at, value) in observed.items()
        if node not in recorded or recorded[node] < at
    }
