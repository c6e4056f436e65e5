"""The Celery application: JSON messages that carry ids only, acked after the work is done."""

from __future__ import annotations

import os
from functools import cache

from celery import Celery

from controlplane.settings import get_settings

RUN_OPERATION = "dbaas.run_operation"
SWEEP = "dbaas.sweep"
RECONCILE = "dbaas.reconcile"
SAMPLE_METRICS = "dbaas.sample_metrics"
COLLECT_LOGS = "dbaas.collect_logs"
CLOSE_LOG_DAYS = "dbaas.close_log_days"
BACKUP_SCHEDULE = "dbaas.backup_schedule"


@cache
def get_celery() -> Celery:
    os.umask(0o077)
    settings = get_settings()
    app = Celery("dbaas", broker=settings.redis_url, include=["workers.tasks"])
    app.conf.update(
        task_default_queue=settings.queue_name,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": settings.sweeper_interval_seconds},
            "reconcile": {"task": RECONCILE, "schedule": settings.reconcile_interval_seconds},
            "sample-metrics": {  # a round not started within its interval is dropped
                "task": SAMPLE_METRICS,
                "schedule": settings.metrics_interval_seconds,
                "options": {"expires": settings.metrics_interval_seconds},
            },
            "collect-logs": {
                "task": COLLECT_LOGS,
                "schedule": settings.log_collect_interval_seconds,
            },
            "close-log-days": {
                "task": CLOSE_LOG_DAYS,
                "schedule": settings.log_close_interval_seconds,
            },
            "backup-schedule": {  # due runs start a minute late at most
                "task": BACKUP_SCHEDULE,
                "schedule": 60.0,
                "options": {"expires": 60.0},
            },
        },
    )
    return app


def publish_operation(operation_id: str, countdown: float | None = None) -> None:
    get_celery().send_task(RUN_OPERATION, args=[operation_id], countdown=countdown)
