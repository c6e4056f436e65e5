"""Celery tasks: thin wrappers that carry ids only."""

from __future__ import annotations

import logging

from celery import shared_task

from controlplane.db.session import session_factory
from controlplane.services import operations
from controlplane.settings import get_settings
from workers import handlers
from workers.celery_app import RECONCILE, RUN_OPERATION, SWEEP, publish_operation
from workers.runner import run_operation

log = logging.getLogger(__name__)


@shared_task(name=RUN_OPERATION)
def run_operation_task(operation_id: str) -> str:
    outcome = run_operation(
        session_factory(), operation_id, handlers.HANDLERS, handlers.FAILURE_HOOKS
    )
    if outcome.status == "retry":
        publish_operation(operation_id, countdown=outcome.delay)
    log.info("operation %s: %s", operation_id, outcome.status)
    return outcome.status


@shared_task(name=SWEEP)
def sweep_task() -> int:
    return sweep()


def sweep() -> int:
    """Republish operations committed but never picked up, or abandoned by a dead worker."""
    sessions = session_factory()
    with sessions() as session:
        due = operations.due_for_publication(session, get_settings().republish_after_seconds)
    if due:
        log.info("sweeper republishes %d operation(s)", len(due))
        operations.publish(sessions, due)
    return len(due)


@shared_task(name=RECONCILE)
def reconcile_task() -> None:
    from workers.periodic import reconcile_all

    reconcile_all(session_factory())
