"""Operation records: committed first, published after the commit, claimed with a lease.

Every state change of an operation goes through ``claim``/``finish``/``reschedule`` here, with
conditional updates so that two workers racing on one operation cannot both run it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from controlplane.db.base import utcnow
from controlplane.db.models import Operation
from controlplane.domain.states import OperationStatus, check_operation_transition

log = logging.getLogger(__name__)
PENDING, RUNNING = OperationStatus.PENDING.value, OperationStatus.RUNNING.value
# Encrypted parameters a job needs once (a password verifier): erased when the job ends.
SECRET_PARAMS = frozenset({"admin_verifier", "verifier"})


def record(
    session: Session,
    kind: str,
    resource_type: str,
    resource_id: str,
    params: dict[str, Any] | None = None,
) -> Operation:
    op = Operation(
        kind=kind,
        resource_type=resource_type,
        resource_id=resource_id,
        status=PENDING,
        params=params or {},
    )
    session.add(op)
    session.flush()
    return op


def open_operation(session: Session, kind: str, resource_id: str) -> Operation | None:
    """The pending or running operation of this kind on the resource, if any."""
    return session.scalar(
        select(Operation)
        .where(
            Operation.kind == kind,
            Operation.resource_id == resource_id,
            Operation.status.in_((PENDING, RUNNING)),
        )
        .limit(1)
    )


def record_once(
    session: Session, kind: str, resource_type: str, resource_id: str
) -> Operation | None:
    """A new operation unless one of this kind is already open on the resource (a converge
    that will run anyway, on the rows as they are then); None when one is open."""
    if open_operation(session, kind, resource_id) is not None:
        return None
    return record(session, kind, resource_type, resource_id)


def record_running(
    session: Session,
    kind: str,
    resource_type: str,
    resource_id: str,
    owner: str,
    params: dict[str, Any] | None = None,
    lease_seconds: int = 15,
) -> Operation:
    """An operation done in place by its recorder (the HA monitor), not by a worker."""
    op = record(session, kind, resource_type, resource_id, params)
    op.status = RUNNING
    op.attempts = 1
    op.published_at = utcnow()
    op.lease_owner = owner
    op.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    return op


def get(session: Session, operation_id: str) -> Operation:
    op = session.get(Operation, operation_id)
    if op is None:
        raise LookupError(f"operation {operation_id} does not exist")
    return op


def mark_published(session: Session, operation_id: str, at: datetime | None = None) -> None:
    session.execute(
        update(Operation).where(Operation.id == operation_id).values(published_at=at or utcnow())
    )


def publish(session_factory: Any, operation_ids: list[str]) -> None:
    """Publish committed operations; a failure here is repaired by the sweeper."""
    from workers.celery_app import publish_operation

    for op_id in operation_ids:
        publish_operation(op_id)
        with session_factory() as session:
            mark_published(session, op_id)
            session.commit()


def publish_after_commit(session_factory: Any, operation_ids: list[str | None]) -> None:
    """Called by the API once the operation is committed. If the broker is down the request
    still succeeds: the sweeper publishes the operation later."""
    try:
        publish(session_factory, [op_id for op_id in operation_ids if op_id])
    except Exception:
        log.warning("publishing %s failed; the sweeper will retry", operation_ids, exc_info=True)


def claim(session: Session, operation_id: str, owner: str, lease_seconds: int) -> Operation | None:
    """Take the lease if the operation is pending (and due) or its previous lease expired."""
    now = utcnow()
    result = session.execute(
        update(Operation)
        .where(
            Operation.id == operation_id,
            or_(
                (Operation.status == PENDING)
                & or_(Operation.not_before.is_(None), Operation.not_before <= now),
                (Operation.status == RUNNING) & (Operation.lease_expires_at < now),
            ),
        )
        .values(
            status=RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Operation.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Operation, operation_id, populate_existing=True)


def renew_lease(session: Session, operation_id: str, owner: str, lease_seconds: int) -> bool:
    result = session.execute(
        update(Operation)
        .where(Operation.id == operation_id, Operation.lease_owner == owner)
        .where(Operation.status == RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(session: Session, op: Operation, status: OperationStatus, error: str | None) -> None:
    check_operation_transition(op.status, status)
    op.status = status.value
    op.error = error
    op.finished_at = utcnow()
    op.lease_owner = None
    op.lease_expires_at = None
    if SECRET_PARAMS & op.params.keys():
        op.params = {k: v for k, v in op.params.items() if k not in SECRET_PARAMS}


def reschedule(session: Session, op: Operation, delay: float, error: str) -> None:
    check_operation_transition(op.status, OperationStatus.PENDING)
    now = utcnow()
    op.status = PENDING
    op.error = error
    op.not_before = now + timedelta(seconds=delay)
    op.published_at = now
    op.lease_owner = None
    op.lease_expires_at = None


def due_for_publication(session: Session, republish_after: float) -> list[str]:
    """Operations committed but never picked up, or whose worker died (lease expired)."""
    now = utcnow()
    stale = now - timedelta(seconds=republish_after)
    pending_lost = (
        (Operation.status == PENDING)
        & or_(Operation.published_at.is_(None), Operation.published_at < stale)
        & or_(Operation.not_before.is_(None), Operation.not_before <= now)
    )
    abandoned = (Operation.status == RUNNING) & (Operation.lease_expires_at < now)
    rows = session.scalars(select(Operation.id).where(or_(pending_lost, abandoned))).all()
    return list(rows)


def of_resources(session: Session, resource_ids: list[str]) -> list[Operation]:
    """Newest first."""
    return list(
        session.scalars(
            select(Operation)
            .where(Operation.resource_id.in_(resource_ids))
            .order_by(Operation.created_at.desc())
        )
    )
