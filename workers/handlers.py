"""Which function runs each operation kind, and what a permanent failure does to its resource."""

from __future__ import annotations

from workers import instance_jobs
from workers.runner import FailureHook, Handler, OperationContext


def ping(ctx: OperationContext) -> None:
    """Liveness probe of the job pipeline (API -> Redis -> worker -> metadata store)."""


HANDLERS: dict[str, Handler] = {
    "ping": ping,
    "provision_instance": instance_jobs.provision,
    "heal_instance": instance_jobs.heal,
    "delete_instance": instance_jobs.delete,
}
FAILURE_HOOKS: dict[str, FailureHook] = {
    "provision_instance": instance_jobs.mark_error,
    "heal_instance": instance_jobs.mark_error,
    "delete_instance": instance_jobs.mark_error,
}
