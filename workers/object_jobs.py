"""Databases, users and privileges: one short job per API call, run on the instance's main node.

The API records the operation, publishes it and waits for its end
(``controlplane/services/engine_objects.py``). The job leaves its answer in
``params["result"]``: what a read found, or ``{"refused": ...}`` when the engine refused for a
reason the user can act on (``ObjectRefused``: the operation fails with that message). The
password verifier travels encrypted in ``params["verifier"]`` and is erased when the job ends
(``operations.SECRET_PARAMS``). The instance's status does not change: these calls are
synchronous in the real API.

A retried create (the first attempt may have created the object before its worker died)
converges instead of refusing: on a later attempt an existing user gets the requested password
and role, an existing managed database is taken as the one the first attempt made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from agents.base import Connection, EngineAgent
from controlplane import secrets
from controlplane.db.models import Operation
from controlplane.domain.engine_objects import ObjectRefused
from controlplane.domain.failures import PermanentError
from workers.blueprint import connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import load_instance
from workers.runner import OperationContext

Action = Callable[[EngineAgent, Connection, dict[str, Any], int], Any]


def _verifier(params: dict[str, Any]) -> str | None:
    value = params.get("verifier")
    return secrets.decrypt(value) if isinstance(value, str) and value else None


def _list_databases(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    return [asdict(d) for d in agent.list_databases(conn, sizes=bool(params.get("sizes", True)))]


def _create_database(agent: EngineAgent, conn: Connection, params: dict[str, Any], n: int) -> Any:
    name = str(params["name"])
    if n > 1 and any(d.name == name and d.managed for d in agent.list_databases(conn, False)):
        return {}
    agent.create_database(conn, name)
    return {}


def _drop_database(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    agent.drop_database(conn, str(params["name"]))
    return {}


def _list_users(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    return [asdict(u) for u in agent.list_users(conn)]


def _create_user(agent: EngineAgent, conn: Connection, params: dict[str, Any], n: int) -> Any:
    name, is_admin, verifier = str(params["name"]), bool(params["is_admin"]), _verifier(params)
    if verifier is None:
        raise PermanentError("the password verifier is gone: create the user again")
    if n > 1 and any(u.name == name for u in agent.list_users(conn)):
        agent.update_user(conn, name, verifier, is_admin)
    else:
        agent.create_user(conn, name, verifier, is_admin)
    return {}


def _update_user(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    name = str(params["name"])
    is_admin = params.get("is_admin")
    agent.update_user(conn, name, _verifier(params), None if is_admin is None else bool(is_admin))
    found = [asdict(u) for u in agent.list_users(conn) if u.name == name]
    return found[0] if found else {"name": name, "is_admin": bool(is_admin)}


def _drop_user(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    agent.drop_user(conn, str(params["name"]))
    return {}


def _list_privileges(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    return [
        {"database_name": p.database, "user_name": p.user, "permission": p.permission}
        for p in agent.list_privileges(conn)
    ]


def _set_privilege(agent: EngineAgent, conn: Connection, params: dict[str, Any], _: int) -> Any:
    database, user = str(params["database_name"]), str(params["user_name"])
    agent.set_privilege(conn, database, user, str(params["permission"]))
    return {}


ACTIONS: dict[str, Action] = {
    "list_databases": _list_databases,
    "create_database": _create_database,
    "delete_database": _drop_database,
    "list_users": _list_users,
    "create_user": _create_user,
    "update_user": _update_user,
    "delete_user": _drop_user,
    "list_privileges": _list_privileges,
    "set_privilege": _set_privilege,
}


def run(ctx: OperationContext) -> None:
    action = ACTIONS.get(ctx.kind)
    if action is None:
        raise PermanentError(f"no engine object action {ctx.kind!r}")
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is None or instance.status == "deleting":
            raise PermanentError(f"instance {ctx.resource_id} is being deleted")
        bp = load_blueprint(instance)
    try:
        result = action(bp.agent, connection(bp, bp.primary), dict(ctx.params), ctx.attempt)
    except ObjectRefused as exc:
        _store(ctx, exc.as_result())
        raise
    except ValueError as exc:  # a name or hash the SQL quoting refused
        raise PermanentError(str(exc)) from exc
    _store(ctx, {"value": result})


def _store(ctx: OperationContext, result: dict[str, Any]) -> None:
    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, "result": result}
            session.commit()
