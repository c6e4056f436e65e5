"""Readings of a node become metric values: percentages of the node type's limits, rates from
running counts of two rounds (none after a reset), counts carried to the next round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.mysql.agent import written_transactions
from workers.metric_values import (
    CPU_SECONDS,
    WRITE_TRANSACTIONS,
    Count,
    NodeReading,
    carried_counts,
    new_observations,
    node_values,
    percent,
    rate,
)

GIB = 1024**3


def test_rate_between_two_readings() -> None:
    assert rate(Count(10.0, at=100.0), Count(40.0, at=130.0)) == 1.0
    assert rate(None, Count(40.0, at=130.0)) is None  # a first reading
    assert rate(Count(50.0, at=100.0), Count(40.0, at=130.0)) is None  # reset by a restart
    assert rate(Count(10.0, at=130.0), Count(40.0, at=130.0)) is None  # no time passed
    assert rate(Count(10.0, at=100.0), Count(10.0, at=130.0)) == 0.0


def test_percent_is_bounded_and_rounded() -> None:
    assert percent(1, 3) == 33.33
    assert percent(5, 4) == 100.0  # a quota overshoots within a scheduler period
    assert percent(-1, 4) == 0.0
    assert percent(1, 0) is None


def test_cpu_is_a_share_of_the_node_types_vcpus() -> None:
    previous = {CPU_SECONDS: Count(100.0, at=1000.0)}
    reading = NodeReading("c1", {CPU_SECONDS: Count(115.0, at=1030.0)})
    # 15 CPU seconds in 30 s = half a CPU, a quarter of 2 vCPUs
    assert node_values(reading, previous, cpus=2, memory_bytes=GIB) == {"cpu_usage_percent": 25.0}
    assert node_values(reading, {}, cpus=2, memory_bytes=GIB) == {}  # no previous round


def test_every_metric_a_reading_holds() -> None:
    previous = {CPU_SECONDS: Count(0.0, at=0.0), WRITE_TRANSACTIONS: Count(1000, at=0.5)}
    reading = NodeReading(
        "c1",
        {CPU_SECONDS: Count(3.0, at=30.0), WRITE_TRANSACTIONS: Count(1600, at=30.5)},
        memory_bytes=GIB // 4,
        connections=7,
        disk=(3 * GIB, GIB),
    )
    assert node_values(reading, previous, cpus=1, memory_bytes=GIB) == {
        "cpu_usage_percent": 10.0,
        "memory_usage_percent": 25.0,
        "disk_used_bytes": 3.0 * GIB,
        "disk_usage_percent": 75.0,
        "connections": 7.0,
        "write_transactions_per_second": 20.0,
    }


def test_an_engine_that_did_not_answer_gives_container_figures_only() -> None:
    reading = NodeReading("c1", {CPU_SECONDS: Count(3.0, at=30.0)}, memory_bytes=GIB // 2)
    previous = {CPU_SECONDS: Count(0.0, at=0.0), WRITE_TRANSACTIONS: Count(5, at=0.0)}
    values = node_values(reading, previous, cpus=1, memory_bytes=GIB)
    assert values == {"cpu_usage_percent": 10.0, "memory_usage_percent": 50.0}


def test_counts_carried_to_the_next_round() -> None:
    previous = {
        "c1": {CPU_SECONDS: Count(1.0, 0.0), WRITE_TRANSACTIONS: Count(10, 0.0)},
        "gone": {CPU_SECONDS: Count(1.0, 0.0)},
        "silent": {CPU_SECONDS: Count(1.0, 0.0)},
    }
    readings = [NodeReading("c1", {CPU_SECONDS: Count(2.0, 30.0)}), NodeReading("new", {})]
    carried = carried_counts(previous, readings, running={"c1", "new", "silent"})
    assert carried == {
        # the engine did not answer: its last count stays, the CPU count is this round's
        "c1": {CPU_SECONDS: Count(2.0, 30.0), WRITE_TRANSACTIONS: Count(10, 0.0)},
        "new": {},
        "silent": {CPU_SECONDS: Count(1.0, 0.0)},  # running but not observed this round
    }
    assert previous["c1"][CPU_SECONDS] == Count(1.0, 0.0)  # not changed in place


def test_lag_observations_are_recorded_once() -> None:
    t0 = datetime(2026, 11, 30, tzinfo=UTC)
    later = t0 + timedelta(seconds=15)
    observed = {"n2": (later, 0.0), "r1": (t0, 128.0), "r2": (t0, 5.0)}
    recorded = {"n2": t0, "r1": t0}
    assert new_observations(observed, recorded) == {"n2": (later, 0.0), "r2": (t0, 5.0)}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"Binlog_commits": 42, "Com_commit": 3}, 42),  # MariaDB: every transaction that wrote
        ({"Com_commit": 3}, 3),  # MySQL has no Binlog_commits
        ({}, 0),
    ],
)
def test_mysql_family_write_transactions(status: dict[str, int], expected: int) -> None:
    assert written_transactions(status) == expected
