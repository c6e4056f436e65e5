"""When an instance's scheduled backups run: pure, so that the API's ``next_run_at`` and the
worker's periodic pass agree, and nothing but the instance's own fields is stored.

Runs fall every ``frequency`` hours on a grid anchored at the instance's creation, or, with a
``start_hour``, at that hour (UTC) of its creation day; only runs after the creation count. A
pass that finds a run due and no scheduled backup of the instance since that run takes one per
database: a missed pass catches up once, never once per missed run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SCHEDULED_PREFIX = "scheduled-"


def _anchor(created_at: datetime, start_hour: int | None) -> datetime:
    if start_hour is None:
        return created_at
    return created_at.replace(hour=start_hour, minute=0, second=0, microsecond=0)


def _first_after(created_at: datetime, frequency: timedelta, start_hour: int | None) -> datetime:
    anchor = _anchor(created_at, start_hour)
    steps = (created_at - anchor) // frequency + 1  # the first grid point after creation
    return anchor + steps * frequency


def last_due(
    created_at: datetime, frequency_hours: int, start_hour: int | None, now: datetime
) -> datetime | None:
    """The latest run at or before ``now``; None before the first one."""
    frequency = timedelta(hours=frequency_hours)
    first = _first_after(created_at, frequency, start_hour)
    if now < first:
        return None
    return first + ((now - first) // frequency) * frequency


def next_run(
    created_at: datetime, frequency_hours: int, start_hour: int | None, now: datetime
) -> datetime:
    """The first run after ``now``."""
    frequency = timedelta(hours=frequency_hours)
    first = _first_after(created_at, frequency, start_hour)
    if now < first:
        return first
    return first + ((now - first) // frequency + 1) * frequency


def run_suffix(run: datetime) -> str:
    """How every backup name of one run ends: the run is found again by name."""
    return f"-{run:%Y%m%dT%H%MZ}"


def scheduled_name(database: str, run: datetime) -> str:
    return f"{SCHEDULED_PREFIX}{database}{run_suffix(run)}"
