"""Samples become one series per (metric, node), oldest point first; long series are averaged
down to a bounded number of points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.domain.metrics import Sample, Series, downsample, series

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_grouped_by_metric_and_node_in_order() -> None:
    samples = [
        Sample("n2", "connections", at(30), 4.0),
        Sample("n1", "cpu_usage_percent", at(30), 20.0),
        Sample("n1", "connections", at(30), 3.0),
        Sample("n1", "cpu_usage_percent", at(0), 10.0),
        Sample("n1", "connections", at(0), 2.0),
    ]
    assert series(samples) == [
        Series("connections", "n1", [(at(0), 2.0), (at(30), 3.0)]),
        Series("connections", "n2", [(at(30), 4.0)]),
        Series("cpu_usage_percent", "n1", [(at(0), 10.0), (at(30), 20.0)]),
    ]


def test_no_samples_no_series() -> None:
    assert series([]) == []


def test_short_series_are_left_as_they_are() -> None:
    points = [(at(i), float(i)) for i in range(10)]
    assert downsample(points, 10) is points


def test_long_series_average_runs_stamped_with_their_last_time() -> None:
    points = [(at(i), float(i)) for i in range(10)]
    assert downsample(points, 5) == [
        (at(1), 0.5),
        (at(3), 2.5),
        (at(5), 4.5),
        (at(7), 6.5),
        (at(9), 8.5),
    ]
    thinned = downsample(points, 4)  # runs of 3: the last run is shorter
    assert thinned == [(at(2), 1.0), (at(5), 4.0), (at(8), 7.0), (at(9), 9.0)]


def test_series_are_bounded() -> None:
    samples = [Sample("n1", "connections", at(i), 1.0) for i in range(2500)]
    (only,) = series(samples, max_points=1000)
    assert len(only.points) <= 1000 and only.points[-1] == (at(2499), 1.0)
