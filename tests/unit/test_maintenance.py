"""Maintenance decisions (pure): what is announced, when it is forced, what closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.base import engine_version
from controlplane.domain import maintenance
from controlplane.domain.maintenance import Image, Kind, Recorded, Status

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
OLD = Image("sha256:old", "15.20", "aaaaaaaaaaaaaaaa")
REBUILT = Image("sha256:new", "15.20", "bbbbbbbbbbbbbbbb")
NEWER = Image("sha256:newer", "15.21", "cccccccccccccccc")


def test_no_certificate_renewal_before_thirty_days() -> None:
    assert maintenance.certificate_renewal(NOW + timedelta(days=31), NOW) is None
    assert maintenance.certificate_renewal(None, NOW) is None


def test_certificate_renewal_is_announced_then_forced_two_weeks_before_expiry() -> None:
    expires = NOW + timedelta(days=20)
    announced = maintenance.certificate_renewal(expires, NOW)
    assert announced is not None and announced.kind == Kind.CERTIFICATE_RENEWAL
    assert announced.starts_at == expires - timedelta(days=30)
    assert announced.forced_at == expires - timedelta(days=14)
    assert announced.stops_at > announced.forced_at
    late = maintenance.certificate_renewal(NOW + timedelta(days=3), NOW)
    assert late is not None and late.forced_at == NOW  # already past: forced now


def test_image_update_only_when_the_tag_moved() -> None:
    assert maintenance.image_update("PostgreSQL-15", OLD, OLD, NOW, WEEK) is None
    assert maintenance.image_update("PostgreSQL-15", None, OLD, NOW, WEEK) is None
    assert maintenance.image_update("PostgreSQL-15", OLD, None, NOW, WEEK) is None


def test_image_update_names_versions_or_recipes() -> None:
    minor = maintenance.image_update("PostgreSQL-15", OLD, NEWER, NOW, WEEK)
    assert minor is not None and minor.target == NEWER.image_id
    assert minor.reason.startswith("Minor version update: PostgreSQL-15 15.20 to 15.21")
    assert minor.forced_at == NOW + WEEK
    rebuilt = maintenance.image_update("PostgreSQL-15", OLD, REBUILT, NOW, WEEK)
    assert rebuilt is not None
    assert "rebuilt (recipe aaaaaaaaaaaa to bbbbbbbbbbbb)" in rebuilt.reason


def _announce(image: Image) -> maintenance.Announcement:
    announced = maintenance.image_update("PostgreSQL-15", OLD, image, NOW, WEEK)
    assert announced is not None
    return announced


def test_plan_creates_one_per_kind() -> None:
    plan = maintenance.plan([], [_announce(REBUILT)])
    assert [a.kind for a in plan.create] == [Kind.IMAGE_UPDATE]
    recorded = [Recorded("m1", Kind.IMAGE_UPDATE, Status.PENDING, REBUILT.image_id)]
    again = maintenance.plan(recorded, [_announce(REBUILT)])
    assert again.create == [] and again.retarget == {} and again.close == {}


def test_plan_retargets_a_pending_update_to_the_newest_build() -> None:
    recorded = [Recorded("m1", Kind.IMAGE_UPDATE, Status.PENDING, REBUILT.image_id)]
    plan = maintenance.plan(recorded, [_announce(NEWER)])
    assert plan.create == [] and plan.retarget["m1"].target == NEWER.image_id


def test_plan_closes_what_is_no_longer_needed() -> None:
    recorded = [
        Recorded("img", Kind.IMAGE_UPDATE, Status.PENDING, REBUILT.image_id),
        Recorded("tls", Kind.CERTIFICATE_RENEWAL, Status.PENDING, None),
    ]
    plan = maintenance.plan(recorded, [])
    assert plan.close == {"img": Status.CANCELED, "tls": Status.DONE}


def test_plan_leaves_ongoing_ones_to_their_job() -> None:
    recorded = [Recorded("img", Kind.IMAGE_UPDATE, Status.ONGOING, REBUILT.image_id)]
    plan = maintenance.plan(recorded, [])
    assert plan.close == {} and plan.create == []
    plan = maintenance.plan(recorded, [_announce(NEWER)])
    assert plan.create == [] and plan.retarget == {}


def test_plan_keeps_what_was_not_observed() -> None:
    recorded = [Recorded("img", Kind.IMAGE_UPDATE, Status.PENDING, REBUILT.image_id)]
    plan = maintenance.plan(recorded, [], frozenset({Kind.CERTIFICATE_RENEWAL}))
    assert plan.close == {}


def test_forced() -> None:
    assert not maintenance.forced([], NOW)
    assert not maintenance.forced([NOW + timedelta(seconds=1)], NOW)
    assert maintenance.forced([NOW + WEEK, NOW], NOW)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n", "15.20"),
        ("postgres (PostgreSQL) 17.6 (Debian 17.6-0+deb13u1)\n", "17.6"),
        ("mariadbd  Ver 10.11.14-MariaDB-0+deb12u2 for debian-linux-gnu on x86_64\n", "10.11.14"),
    ],
)
def test_engine_version(output: str, version: str) -> None:
    assert engine_version(output) == version


def test_engine_version_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="no version"):
        engine_version("command not found")
