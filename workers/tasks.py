"""Celery tasks: thin wrappers that carry ids only."""

from __future__ import annotations

import logging

from celery import shared_task

from controlplane.db.session import session_factory
from controlplane.services import operations
from controlplane.settings import get_settings
from workers import handlers
from workers.celery_app import (
    BACKUP_SCHEDULE,
    CLOSE_LOG_DAYS,
    COLLECT_LOGS,
    RECONCILE,
    RUN_OPERATION,
    SAMPLE_METRICS,
    SWEEP,
    publish_operation,
)
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


@shared_task(name=SAMPLE_METRICS)
def sample_metrics_task() -> int:
    from workers.metrics_sampler import sample_all

    return sample_all(session_factory())


@shared_task(name=COLLECT_LOGS)
def collect_logs_task() -> None:
    from workers import binlog_archive, wal_archive
    from workers.log_jobs import collect_all

    try:
        collect_all(session_factory())
    finally:  # archived WAL segments and binlogs ride the same beat (point-in-time recovery)
        try:
            wal_archive.collect_all(session_factory())
        finally:
            binlog_archive.collect_all(session_factory())


@shared_task(name=CLOSE_LOG_DAYS)
def close_log_days_task() -> None:
    from workers.log_jobs import close_all

    close_all(session_factory())


@shared_task(name=BACKUP_SCHEDULE)
def backup_schedule_task() -> int:
    """Scheduled backups that are due, and expired backups removed."""
    from workers import archive_trim, binlog_archive, wal_archive
    from workers.backup_jobs import expire_all, schedule_all

    schedule_all(session_factory())
    wal_archive.expire(session_factory())  # archived WAL no snapshot could start from
    binlog_archive.expire(session_factory())
    archive_trim.trim(session_factory())  # ... nor what is older than the oldest snapshot
    return expire_all(session_factory())
