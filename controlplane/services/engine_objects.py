"""Databases, users and privileges of an instance: validate, record, publish, wait for the job.

These calls are synchronous in the real API, but only workers reach the nodes. So a request is
validated here (the instance, names, password rules), recorded as an operation (a password as
its verifier, encrypted; never the plaintext), published after the commit, and then awaited:
the route answers with the job's result (``workers/object_jobs.py``), or with the Scaleway error
a refusal maps to. Reads leave no trace (their operation row is removed once answered); writes
stay in the instance's operations. A job that does not end within ``WAIT_SECONDS`` is called
off if no worker took it yet, and the caller gets ``transient_state`` (clients retry a 409).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from agents.registry import agent_for
from controlplane import secrets
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory
from controlplane.domain import engine_objects as objects
from controlplane.domain import privileges, rules
from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.errors import (
    ApiError,
    InvalidArguments,
    NotFound,
    PreconditionFailed,
    TransientState,
)
from controlplane.domain.redact import public_message
from controlplane.domain.states import InstanceStatus, OperationStatus
from controlplane.services import instances, operations
from controlplane.services.tenancy import Principal

WAIT_SECONDS = 30.0
READS = frozenset({"list_databases", "list_users", "list_privileges"})
# The main node serves in these statuses: reads go on while ACLs or settings change.
READABLE = frozenset(
    {
        InstanceStatus.READY,
        InstanceStatus.CONFIGURING,
        InstanceStatus.DISK_FULL,
        InstanceStatus.BACKUPING,
        InstanceStatus.SNAPSHOTTING,
    }
)


class EngineFailed(ApiError):
    """The job failed for a reason that is not the user's to fix (the message says which)."""

    status_code = 500

    def __init__(self, detail: str):
        super().__init__(detail)
        self.message = f"the database engine could not do it: {detail}"


@dataclass(frozen=True)
class Submitted:
    operation_id: str
    instance_id: str
    read: bool


def _instance(
    session: Session, principal: Principal, region: str, instance_id: str, kind: str
) -> tuple[Instance, str]:
    """The instance and its engine family; a write needs it ``ready``."""
    instance = instances.get(session, principal, region, instance_id)
    allowed = READABLE if kind in READS else {InstanceStatus.READY}
    if instance.status not in allowed:
        raise TransientState("instance", instance.id, instance.status)
    version = find_engine_version(load_catalog(), instance.engine)
    return instance, version.family.value if version else "postgresql"


def _submit(session: Session, instance: Instance, kind: str, params: dict[str, Any]) -> Submitted:
    op = operations.record(session, kind, "instance", instance.id, params)
    session.commit()
    return Submitted(op.id, instance.id, kind in READS)


def _user_not_found_unless_valid(name: str, family: str) -> None:
    """A name no customer user can have names no user at all."""
    if objects.user_name_errors(name, family):
        raise NotFound("user", name)


def _database_not_found_unless_valid(name: str, family: str) -> None:
    if objects.database_name_errors(name, family):
        raise NotFound("database", name)


# --- requests ---------------------------------------------------------------------------------


def list_objects(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    kind: str,
    orders: dict[str, tuple[str, ...]],
    order_by: str,
    page: int,
    page_size: int | None,
    params: dict[str, Any] | None = None,
) -> Submitted:
    errors = objects.order_errors(order_by, orders) + objects.page_errors(page, page_size)
    instance, _ = _instance(session, principal, region, instance_id, kind)
    if errors:
        raise InvalidArguments(errors)
    return _submit(session, instance, kind, params or {})


def create_database(
    session: Session, principal: Principal, region: str, instance_id: str, name: str
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "create_database")
    errors = objects.database_name_errors(name, family)
    if errors:
        raise InvalidArguments(errors)
    return _submit(session, instance, "create_database", {"name": name})


def delete_database(
    session: Session, principal: Principal, region: str, instance_id: str, name: str
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "delete_database")
    _database_not_found_unless_valid(name, family)
    if name == objects.DEFAULT_DATABASE:
        raise PreconditionFailed(
            f"{name!r} is the instance's default database: it cannot be deleted",
            "resource_still_in_use",
        )
    return _submit(session, instance, "delete_database", {"name": name})


def create_user(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    name: str,
    password: str,
    is_admin: bool,
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "create_user")
    errors = objects.user_name_errors(name, family) + rules.password_errors(password)
    if errors:
        raise InvalidArguments(errors)
    params = {"name": name, "is_admin": is_admin, "verifier": _verifier(family, name, password)}
    return _submit(session, instance, "create_user", params)


def update_user(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    name: str,
    password: str | None,
    is_admin: bool | None,
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "update_user")
    _user_not_found_unless_valid(name, family)
    params: dict[str, Any] = {"name": name, "is_admin": is_admin}
    if password is not None:
        errors = rules.password_errors(password)
        if errors:
            raise InvalidArguments(errors)
        params["verifier"] = _verifier(family, name, password)
    return _submit(session, instance, "update_user", params)


def delete_user(
    session: Session, principal: Principal, region: str, instance_id: str, name: str
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "delete_user")
    _user_not_found_unless_valid(name, family)
    return _submit(session, instance, "delete_user", {"name": name})


def set_privilege(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    database: str,
    user: str,
    permission: str,
) -> Submitted:
    instance, family = _instance(session, principal, region, instance_id, "set_privilege")
    settable = [p.value for p in privileges.SETTABLE]
    if permission not in settable:
        raise InvalidArguments.one("permission", f"permission must be one of {settable}")
    _database_not_found_unless_valid(database, family)
    _user_not_found_unless_valid(user, family)
    params = {"database_name": database, "user_name": user, "permission": permission}
    return _submit(session, instance, "set_privilege", params)


def _verifier(family: str, name: str, password: str) -> str:
    return secrets.encrypt(agent_for(family).password_verifier(name, password))


# --- the job's answer -------------------------------------------------------------------------


async def outcome(submitted: Submitted, timeout: float = WAIT_SECONDS) -> Any:
    """The job's result once it ends; its refusal as the Scaleway error it maps to."""
    sessions = session_factory()
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        state = await run_in_threadpool(_state, sessions, submitted)
        if state is not None:
            break
        if time.monotonic() > deadline:
            await run_in_threadpool(_call_off, sessions, submitted.operation_id)
            raise TransientState("instance", submitted.instance_id, "busy")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    status, result, error = state
    if status == OperationStatus.SUCCEEDED:
        return result.get("value")
    refused = result.get("refused")
    if isinstance(refused, dict):
        raise refusal_error(refused)
    raise EngineFailed(public_message(error) or "unknown error")


def _state(
    sessions: sessionmaker[Session], submitted: Submitted
) -> tuple[str, dict[str, Any], str | None] | None:
    with sessions() as session:
        op = session.get(Operation, submitted.operation_id)
        if op is None:
            return OperationStatus.FAILED.value, {}, "the operation vanished"
        if op.status not in (OperationStatus.SUCCEEDED, OperationStatus.FAILED):
            return None
        found = op.status, dict(op.params.get("result") or {}), op.error
        if submitted.read:
            session.execute(delete(Operation).where(Operation.id == op.id))
            session.commit()
        return found


def _call_off(sessions: sessionmaker[Session], operation_id: str) -> None:
    """A job no worker took yet never runs (a retry of the request would race with it)."""
    with sessions() as session:
        session.execute(
            update(Operation)
            .where(Operation.id == operation_id, Operation.status == OperationStatus.PENDING)
            .values(
                status=OperationStatus.FAILED.value,
                error="called off: no worker took it in time",
                finished_at=utcnow(),
                params={},
            )
        )
        session.commit()


def refusal_error(refused: dict[str, Any]) -> ApiError:
    resource, name = str(refused.get("resource", "")), str(refused.get("name", ""))
    message = str(refused.get("message", ""))
    kind = refused.get("refusal")
    if kind == objects.Refusal.NOT_FOUND:
        return NotFound(resource, name)
    if kind == objects.Refusal.EXISTS:
        return InvalidArguments([ArgumentError("name", Reason.CONSTRAINT, message)])
    if kind == objects.Refusal.IN_USE:
        return PreconditionFailed(message, "resource_still_in_use")
    return PreconditionFailed(message)
