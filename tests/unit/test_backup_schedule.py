"""The backup schedule's grid: first run, catch-up, start hour, next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.domain.backup_schedule import last_due, next_run, scheduled_name

CREATED = datetime(2026, 11, 30, 10, 17, tzinfo=UTC)


def test_without_start_hour_runs_every_frequency_after_creation() -> None:
    assert last_due(CREATED, 24, None, CREATED + timedelta(hours=23)) is None
    assert next_run(CREATED, 24, None, CREATED) == CREATED + timedelta(hours=24)
    later = CREATED + timedelta(hours=50)
    assert last_due(CREATED, 24, None, later) == CREATED + timedelta(hours=48)
    assert next_run(CREATED, 24, None, later) == CREATED + timedelta(hours=72)
    assert last_due(CREATED, 24, None, CREATED + timedelta(hours=24)) == CREATED + timedelta(
        hours=24
    )


def test_start_hour_sets_the_grid() -> None:
    # created at 10:17, start hour 4, every 6 h: 04:00, 10:00 are before creation -> 16:00
    assert next_run(CREATED, 6, 4, CREATED) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert last_due(CREATED, 6, 4, datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) is None
    assert last_due(CREATED, 6, 4, datetime(2026, 12, 1, 5, tzinfo=UTC)) == datetime(
        2026, 12, 1, 4, tzinfo=UTC
    )
    # a start hour later in the day than the creation
    assert next_run(CREATED, 24, 23, CREATED) == datetime(2026, 11, 30, 23, tzinfo=UTC)


def test_names_carry_database_and_run() -> None:
    run = datetime(2026, 12, 1, 4, tzinfo=UTC)
    assert scheduled_name("app-db", run) == "scheduled-app-db-20261201T0400Z"
