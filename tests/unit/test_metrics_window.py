"""The period a metrics request asks for: lenient dates (Go, Python, naive = UTC), defaults,
and Scaleway ``invalid_arguments`` errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.domain.errors import InvalidArguments
from controlplane.domain.metrics import Window, parse_date, window

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01T00:00:00Z",  # Go SDK
        "2025-01-01 00:00:00+00:00",  # Python SDK: str(datetime)
        "2025-01-01 00:00:00 00:00",  # the same with its "+" decoded to a space
        "2025-01-01T00:00:00",  # naive: UTC
        "2025-01-01 00:00:00",
        "2025-01-01T01:00:00+01:00",
        "2025-01-01T00:00:00.000000Z",
        " 2025-01-01T00:00:00Z ",
    ],
)
def test_the_sdks_dates_are_read(text: str) -> None:
    assert parse_date(text) == MIDNIGHT


def test_fractions_are_kept_and_results_are_utc() -> None:
    parsed = parse_date("2025-01-01T02:30:00.250+02:30")
    assert parsed == datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["yesterday", "2025-13-01T00:00:00Z", "1700000000", "0001-01-01T00:00:00+01:00"]
)
def test_what_is_not_a_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_defaults_are_the_last_hour() -> None:
    assert window(None, None, NOW) == Window(NOW - timedelta(hours=1), NOW)
    assert window("", "", NOW) == Window(NOW - timedelta(hours=1), NOW)  # empty: not given


def test_one_date_given() -> None:
    assert window("2026-11-30T08:00:00Z", None, NOW) == Window(NOW - timedelta(hours=4), NOW)
    end = datetime(2026, 11, 29, tzinfo=UTC)
    assert window(None, "2026-11-29T00:00:00Z", NOW) == Window(end - timedelta(hours=1), end)


def test_an_instant_is_a_window() -> None:
    assert window("2025-01-01T00:00:00Z", "2025-01-01 00:00:00", NOW) == Window(MIDNIGHT, MIDNIGHT)


def test_bad_dates_are_invalid_arguments_naming_each() -> None:
    with pytest.raises(InvalidArguments) as refused:
        window("soon", "later", NOW)
    body = refused.value.body()
    assert refused.value.status_code == 400 and body["type"] == "invalid_arguments"
    assert [(d["argument_name"], d["reason"]) for d in body["details"]] == [
        ("start_date", "format"),
        ("end_date", "format"),
    ]
    assert "soon" in body["details"][0]["help_message"]


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(InvalidArguments) as refused:
        window("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z", NOW)
    (detail,) = refused.value.body()["details"]
    assert detail["argument_name"] == "end_date" and detail["reason"] == "constraint"


def test_an_end_at_the_beginning_of_time_has_a_start() -> None:
    assert window(None, "0001-01-01T00:30:00Z", NOW).start == datetime.min.replace(tzinfo=UTC)
