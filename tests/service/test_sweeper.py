"""An operation committed but never published is picked up once the sweeper republishes it."""

from __future__ import annotations

import time

from controlplane.db.models import Operation
from controlplane.db.session import session_factory, session_scope
from controlplane.services import operations
from workers.tasks import sweep


def _status(op_id: str) -> str:
    with session_factory()() as session:
        op = session.get(Operation, op_id)
        assert op is not None
        return op.status


def test_sweeper_republishes_an_operation_never_picked_up(worker: object) -> None:
    # Committed but never published: only the sweeper (run by beat in the worker) can find it.
    with session_scope() as session:
        op_id = operations.record(session, "ping", "system", "sweeper-test").id
    with session_factory()() as session:
        assert op_id in operations.due_for_publication(session, republish_after=5)

    sweep()
    deadline = time.monotonic() + 30
    while _status(op_id) != "succeeded":
        assert time.monotonic() < deadline, "the worker never ran the republished operation"
        time.sleep(0.3)
    with session_factory()() as session:
        op = session.get(Operation, op_id)
        assert op is not None and op.attempts == 1 and op.published_at is not None
        assert op_id not in operations.due_for_publication(session, republish_after=5)


def test_sweeper_takes_back_an_operation_whose_worker_died(worker: object) -> None:
    from datetime import timedelta

    from controlplane.db.base import utcnow

    with session_scope() as session:
        op = operations.record(session, "ping", "system", "dead-worker-test")
        op.status, op.lease_owner = "running", "ghost:1:1"
        op.lease_expires_at = utcnow() - timedelta(seconds=1)
        op_id = op.id

    assert op_id in operations.due_for_publication(session_factory()(), 5)
    sweep()
    deadline = time.monotonic() + 30
    while _status(op_id) != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.3)
