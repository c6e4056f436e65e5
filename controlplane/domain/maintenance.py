"""Maintenances (pure): what we announce on an instance, and what to do with the announcements
already recorded.

Two kinds:
- ``certificate_renewal``: announced 30 days before the TLS certificate expires, forced 14 days
  before; applying it issues a new certificate (the renewal itself, see certificates.py).
- ``image_update``: the image tag of the instance's engine version now points at another build
  (``deploy/images/build.sh`` after a recipe change or a Debian point release) than the one its
  nodes run; applying it moves every node to that build (rolled on HA, like a restart).
A pending maintenance not applied by ``forced_at`` is applied automatically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from controlplane.certificates import RENEW_BEFORE

CERTIFICATE_FORCED_BEFORE = timedelta(days=14)  # before expiry
APPLY_WINDOW = timedelta(hours=1)  # after forced_at: the automatic application's window


class HasStatus(Protocol):
    status: str


class Kind(StrEnum):
    IMAGE_UPDATE = "image_update"
    CERTIFICATE_RENEWAL = "certificate_renewal"


class Status(StrEnum):  # MaintenanceStatus on the wire
    PENDING = "pending"
    ONGOING = "ongoing"
    DONE = "done"
    CANCELED = "canceled"


OPEN = (Status.PENDING, Status.ONGOING)


def any_open(rows: Iterable[HasStatus]) -> bool:
    return any(row.status in OPEN for row in rows)


@dataclass(frozen=True)
class Image:
    """One build of an engine image: its id, recipe and the exact engine version inside."""

    image_id: str
    engine_version: str
    recipe_hash: str = ""


@dataclass(frozen=True)
class Announcement:
    kind: Kind
    reason: str
    starts_at: datetime
    forced_at: datetime
    target: str | None = None  # image_update: the image id to move to

    @property
    def stops_at(self) -> datetime:
        return self.forced_at + APPLY_WINDOW


@dataclass(frozen=True)
class Recorded:
    """An open maintenance row, as much of it as the decisions need."""

    id: str
    kind: Kind
    status: Status
    target: str | None


@dataclass(frozen=True)
class Plan:
    create: list[Announcement]
    retarget: dict[str, Announcement]  # row id -> the newer announcement of its kind
    close: dict[str, Status]  # row id -> done (what called for it is done) or canceled


def certificate_renewal(tls_expires_at: datetime | None, now: datetime) -> Announcement | None:
    if tls_expires_at is None or now < tls_expires_at - RENEW_BEFORE:
        return None
    return Announcement(
        kind=Kind.CERTIFICATE_RENEWAL,
        reason=(
            f"TLS certificate renewal: the certificate expires at {tls_expires_at.isoformat()}. "
            "Apply the maintenance (or renew-certificate) to renew it now, then download the "
            "new certificate."
        ),
        starts_at=tls_expires_at - RENEW_BEFORE,
        forced_at=max(now, tls_expires_at - CERTIFICATE_FORCED_BEFORE),
    )


def image_update(
    engine: str, running: Image | None, newest: Image | None, now: datetime, force_after: timedelta
) -> Announcement | None:
    """``running``: the build the nodes run; ``newest``: the one the tag points at now."""
    if running is None or newest is None or running.image_id == newest.image_id:
        return None
    if running.engine_version != newest.engine_version:
        reason = (
            f"Minor version update: {engine} {running.engine_version} to {newest.engine_version}"
        )
    else:
        recipes = f"{running.recipe_hash[:12] or 'unknown'} to {newest.recipe_hash[:12]}"
        reason = f"Image update: {engine} {newest.engine_version} rebuilt (recipe {recipes})"
    reason += "; every node restarts on the new image (rolled on HA: writes pause for a switchover)"
    return Announcement(
        kind=Kind.IMAGE_UPDATE,
        reason=reason,
        starts_at=now,
        forced_at=now + force_after,
        target=newest.image_id,
    )


def plan(
    recorded: list[Recorded],
    wanted: list[Announcement],
    observed: frozenset[Kind] = frozenset(Kind),
) -> Plan:
    """Open rows meet what the instance needs now. One open row per kind; an ongoing one is
    its job's to close. A pending one no longer needed closes: a certificate renewed by other
    means is done; an image update whose tag went back to the running build is canceled.
    Rows of a kind not ``observed`` this time (Docker did not answer) stay as they are."""
    wanted_by_kind = {a.kind: a for a in wanted}
    create: list[Announcement] = []
    retarget: dict[str, Announcement] = {}
    close: dict[str, Status] = {}
    open_kinds = set()
    for row in recorded:
        open_kinds.add(row.kind)
        if row.status != Status.PENDING or row.kind not in observed:
            continue
        announcement = wanted_by_kind.get(row.kind)
        if announcement is None:
            close[row.id] = Status.DONE if row.kind == Kind.CERTIFICATE_RENEWAL else Status.CANCELED
        elif announcement.target != row.target:
            retarget[row.id] = announcement
    create = [a for kind, a in wanted_by_kind.items() if kind not in open_kinds]
    return Plan(create=create, retarget=retarget, close=close)


def forced(recorded_forced_at: list[datetime], now: datetime) -> bool:
    """A pending maintenance reached its forced date: it is applied without the user."""
    return any(at <= now for at in recorded_forced_at)
