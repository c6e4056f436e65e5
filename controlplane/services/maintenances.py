"""Maintenance use cases: record what is announced, apply what is pending (by the user, or
automatically once forced), close what was applied. Decisions live in domain/maintenance.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Maintenance
from controlplane.domain import maintenance
from controlplane.domain.errors import PreconditionFailed
from controlplane.domain.maintenance import Announcement, Kind, Status
from controlplane.domain.states import InstanceStatus
from controlplane.services import instances, operations
from controlplane.services.tenancy import Principal

SHOWN_AFTER_CLOSING = timedelta(days=7)  # closed maintenances stay listed this long


def open_rows(instance: Instance) -> list[Maintenance]:
    return [m for m in instance.maintenances if m.status in maintenance.OPEN]


def shown(instance: Instance, now: datetime | None = None) -> list[Maintenance]:
    """What the instance lists: the open ones and those closed in the last days."""
    since = (now or utcnow()) - SHOWN_AFTER_CLOSING
    return [m for m in instance.maintenances if is_shown(m.closed_at, since)]


def is_shown(closed_at: datetime | None, since: datetime) -> bool:
    """Open, or closed after ``since`` (``SHOWN_AFTER_CLOSING`` ago)."""
    return closed_at is None or closed_at >= since


def announce(
    session: Session,
    instance: Instance,
    wanted: list[Announcement],
    observed: frozenset[Kind] = frozenset(Kind),
) -> None:
    """Open rows follow what the instance needs now (the caller commits)."""
    now = utcnow()
    recorded = [
        maintenance.Recorded(m.id, Kind(m.kind), Status(m.status), m.target)
        for m in open_rows(instance)
    ]
    plan = maintenance.plan(recorded, wanted, observed)
    by_id = {m.id: m for m in instance.maintenances}
    for row_id, status in plan.close.items():
        by_id[row_id].status = status.value
        by_id[row_id].closed_at = now
    for row_id, announcement in plan.retarget.items():
        by_id[row_id].target = announcement.target
        by_id[row_id].reason = announcement.reason
    for announcement in plan.create:
        instance.maintenances.append(
            Maintenance(
                kind=announcement.kind.value,
                reason=announcement.reason,
                status=Status.PENDING.value,
                target=announcement.target,
                starts_at=announcement.starts_at,
                stops_at=announcement.stops_at,
                forced_at=announcement.forced_at,
            )
        )
    session.flush()


def apply(
    session: Session, principal: Principal, region: str, instance_id: str
) -> tuple[Maintenance, str]:
    instance = instances.get(session, principal, region, instance_id)
    pending = [m for m in instance.maintenances if m.status == Status.PENDING]
    if not pending:
        raise PreconditionFailed(
            f"instance {instance_id} has no pending maintenance", "no_pending_maintenance"
        )
    return start_apply(session, instance)


def start_apply(session: Session, instance: Instance) -> tuple[Maintenance, str]:
    """Every pending maintenance of a ready instance starts (guarded: one of concurrent
    requests wins); a certificate renewal issues the new certificate at once, like
    renew-certificate. The caller publishes the operation."""
    pending = [m for m in instance.maintenances if m.status == Status.PENDING]
    instances.start(session, instance, InstanceStatus.INITIALIZING)
    if any(m.kind == Kind.CERTIFICATE_RENEWAL for m in pending):
        instances.issue_certificate(instance)
    for row in pending:
        row.status = Status.ONGOING.value
    op = operations.record(
        session,
        "apply_maintenance",
        "instance",
        instance.id,
        {"maintenances": [m.id for m in pending]},
    )
    session.commit()
    return pending[0], op.id


def finish(session: Session, instance: Instance, ids: list[str], applied: bool) -> None:
    """The job's end: applied ones are done; after a failure they are pending again (the
    instance is in error; a later apply retries them). The caller commits."""
    now = utcnow()
    for row in instance.maintenances:
        if row.id not in ids or row.status != Status.ONGOING:
            continue
        if applied:
            row.status, row.closed_at = Status.DONE.value, now
        else:
            row.status = Status.PENDING.value
