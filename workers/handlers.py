"""Which function runs each operation kind, and what a permanent failure does to its resource."""

from __future__ import annotations

from workers.runner import FailureHook, Handler, OperationContext


def ping(ctx: OperationContext) -> None:
    """Liveness probe of the job pipeline (API -> Redis -> worker -> metadata store)."""


HANDLERS: dict[str, Handler] = {"ping": ping}
FAILURE_HOOKS: dict[str, FailureHook] = {}
