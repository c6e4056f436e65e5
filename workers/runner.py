"""Run one operation: claim its lease, keep it alive, dispatch to the handler, record the result."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis.lock import Lock
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Operation
from controlplane.domain.failures import (
    Cancelled,
    HostUnreachable,
    PermanentError,
    Preempted,
    TemporaryError,
)
from controlplane.domain.states import OperationStatus
from controlplane.services import operations
from controlplane.settings import get_settings
from workers import locks

log = logging.getLogger(__name__)

# Leases are short and renewed while the handler runs, so a killed worker frees its operation fast.
LEASE_SECONDS = 15
BUSY_RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class OperationContext:
    operation_id: str
    kind: str
    resource_type: str
    resource_id: str
    params: dict[str, object]
    attempt: int
    sessions: sessionmaker[Session]


Handler = Callable[[OperationContext], None]
FailureHook = Callable[[OperationContext, str], None]


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed | retry | skipped
    delay: float = 0.0


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class LeaseKeeper(threading.Thread):
    """Renews the operation's lease and the resource lock while the handler runs."""

    def __init__(self, sessions: sessionmaker[Session], op_id: str, owner: str, lock: Lock):
        super().__init__(daemon=True, name=f"lease-{op_id[:8]}")
        self._sessions, self._op_id, self._owner, self._lock = sessions, op_id, owner, lock
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(LEASE_SECONDS / 3):
            try:
                with self._sessions() as session:
                    operations.renew_lease(session, self._op_id, self._owner, LEASE_SECONDS)
                self._lock.extend(locks.LOCK_TTL_SECONDS, replace_ttl=True)
            except Exception:  # keep renewing; the handler decides the outcome
                log.warning("renewing the lease of %s failed", self._op_id, exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def run_operation(
    sessions: sessionmaker[Session],
    operation_id: str,
    handlers: dict[str, Handler],
    failure_hooks: dict[str, FailureHook],
) -> Outcome:
    owner = worker_identity()
    with sessions() as session:
        op = operations.claim(session, operation_id, owner, LEASE_SECONDS)
        if op is None:
            return Outcome("skipped")
        ctx = OperationContext(
            operation_id=op.id,
            kind=op.kind,
            resource_type=op.resource_type,
            resource_id=op.resource_id,
            params=dict(op.params),
            attempt=op.attempts,
            sessions=sessions,
        )

    with locks.holding(*_lock_key(ctx), wait=2.0) as lock:
        if lock is None:  # another job or the HA monitor works on this resource right now
            return _reschedule(sessions, ctx, BUSY_RETRY_SECONDS, "resource busy", count=False)
        return _run_locked(sessions, ctx, handlers, failure_hooks, owner, lock)


def _lock_key(ctx: OperationContext) -> tuple[str, str]:
    """Jobs on a part of an instance (a read replica) lock the whole instance."""
    parent = ctx.params.get("instance_id")
    if isinstance(parent, str):
        return "instance", parent
    return ctx.resource_type, ctx.resource_id


def _run_locked(
    sessions: sessionmaker[Session],
    ctx: OperationContext,
    handlers: dict[str, Handler],
    failure_hooks: dict[str, FailureHook],
    owner: str,
    lock: Lock,
) -> Outcome:
    operation_id = ctx.operation_id
    max_attempts = get_settings().max_operation_attempts
    keeper = LeaseKeeper(sessions, operation_id, owner, lock)
    keeper.start()
    try:
        handler = handlers.get(ctx.kind)
        if handler is None:
            raise PermanentError(f"unknown operation kind {ctx.kind!r}")
        handler(ctx)
    except Cancelled as exc:  # the resource is being deleted: its deletion cleans up
        return _fail(sessions, ctx, {}, f"cancelled: {exc}")
    except (Preempted, HostUnreachable) as exc:  # yielded to the monitor, waiting for a host
        return _reschedule(sessions, ctx, exc.delay, str(exc), count=False)
    except TemporaryError as exc:
        if ctx.attempt < max_attempts:
            return _reschedule(sessions, ctx, exc.delay, str(exc))
        return _fail(sessions, ctx, failure_hooks, f"gave up after {ctx.attempt} attempts: {exc}")
    except PermanentError as exc:
        return _fail(sessions, ctx, failure_hooks, str(exc))
    except Exception as exc:  # an unexpected bug or outage: retry with backoff, then give up
        log.exception("operation %s (%s) raised", ctx.operation_id, ctx.kind)
        if ctx.attempt < max_attempts:
            return _reschedule(sessions, ctx, 5.0 * ctx.attempt, f"{type(exc).__name__}: {exc}")
        return _fail(sessions, ctx, failure_hooks, f"{type(exc).__name__}: {exc}")
    finally:
        keeper.stop()
    with sessions() as session:
        op = session.get(Operation, operation_id)
        assert op is not None
        operations.finish(session, op, OperationStatus.SUCCEEDED, None)
        session.commit()
    return Outcome("succeeded")


def _reschedule(
    sessions: sessionmaker[Session],
    ctx: OperationContext,
    delay: float,
    error: str,
    count: bool = True,
) -> Outcome:
    with sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        assert op is not None
        operations.reschedule(session, op, delay, error)
        if not count:  # waiting for a busy resource is not a failed attempt
            op.attempts -= 1
        session.commit()
    return Outcome("retry", delay)


def _fail(
    sessions: sessionmaker[Session],
    ctx: OperationContext,
    failure_hooks: dict[str, FailureHook],
    message: str,
) -> Outcome:
    hook = failure_hooks.get(ctx.kind)
    if hook is not None:
        try:
            hook(ctx, message)
        except Exception:  # the operation must end even when its resource moved meanwhile
            log.exception("failure hook of %s (%s) raised", ctx.operation_id, ctx.kind)
    with sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        assert op is not None
        operations.finish(session, op, OperationStatus.FAILED, message)
        session.commit()
    return Outcome("failed")
