"""Users, databases and privileges requests refused before any job is recorded, and a job no
worker takes in time: called off, its verifier gone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory, session_scope
from controlplane.domain.errors import TransientState
from controlplane.domain.states import OperationStatus
from controlplane.services import engine_objects
from controlplane.services.tenancy import Principal
from tests.support.processes import Service
from tests.support.rows import instance_row
from tests.support.tenants import Tenant

BASE = "/rdb/v1/regions/fr-par"
OK_PW, WEAK, SUPER = "Str0ng!pass", "weakpassword", "_rdb_superadmin"


def _operations(instance_id: str) -> int:
    with session_factory()() as session:
        query = select(func.count()).select_from(Operation)
        return session.scalar(query.where(Operation.resource_id == instance_id)) or 0


def _call(api_url: str, tenant: Tenant, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{api_url}{BASE}{path}", headers=tenant.headers, json=body)


@pytest.mark.parametrize(
    ("method", "path", "body", "argument"),
    [
        ("POST", "users", {"name": "_rdb_x", "password": OK_PW, "is_admin": True}, "name"),
        ("POST", "users", {"name": "pg_x", "password": OK_PW, "is_admin": False}, "name"),
        ("POST", "users", {"name": "app", "password": WEAK, "is_admin": False}, "password"),
        ("POST", "users", {"name": "1app", "password": OK_PW}, "name"),
        ("POST", "databases", {"name": "postgres"}, "name"),
        ("POST", "databases", {"name": "_rdb"}, "name"),
        ("POST", "databases", {"name": "a\"b"}, "name"),
        ("PUT", "privileges", {"database_name": "rdb", "user_name": "a", "permission": "custom"},
         "permission"),
        ("GET", "users?order_by=created_at_asc", None, "order_by"),
        ("GET", "privileges?page=1&page_size=101", None, "page_size"),
    ],
)  # fmt: skip
def test_invalid_requests_record_nothing(
    api_url: str, tenant: Tenant, method: str, path: str, body: Any, argument: str
) -> None:
    instance_id = instance_row(tenant)
    r = _call(api_url, tenant, method, f"/instances/{instance_id}/{path}", body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "invalid_arguments"
    assert [d["argument_name"] for d in r.json()["details"]] == [argument]
    assert _operations(instance_id) == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "resource", "resource_id"),
    [
        ("PATCH", "users/_rdb_superadmin", {"password": "Hijack3d!pw"}, "user", SUPER),
        ("DELETE", "users/_rdb_replicator", None, "user", "_rdb_replicator"),
        ("DELETE", "users/pg_monitor", None, "user", "pg_monitor"),
        ("DELETE", "databases/template1", None, "database", "template1"),
        ("PUT", "privileges", {"database_name": "postgres", "user_name": "a"},
         "database", "postgres"),
        ("PUT", "privileges", {"database_name": "rdb", "user_name": SUPER}, "user", SUPER),
    ],
)  # fmt: skip
def test_the_service_s_own_objects_are_not_found(
    api_url: str,
    tenant: Tenant,
    method: str,
    path: str,
    body: Any,
    resource: str,
    resource_id: str,
) -> None:
    instance_id = instance_row(tenant)
    r = _call(api_url, tenant, method, f"/instances/{instance_id}/{path}", body)
    assert r.status_code == 404, r.text
    assert r.json() == {
        "type": "not_found",
        "message": "resource is not found",
        "resource": resource,
        "resource_id": resource_id,
    }
    assert _operations(instance_id) == 0


def test_the_default_database_is_kept(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant)
    r = _call(api_url, tenant, "DELETE", f"/instances/{instance_id}/databases/rdb")
    assert r.status_code == 412, r.text
    assert r.json()["precondition"] == "resource_still_in_use"
    assert _operations(instance_id) == 0


def test_another_tenant_s_instance_is_not_found(
    api_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    instance_id = instance_row(tenant)
    for method, path in (("GET", "users"), ("GET", "databases"), ("DELETE", "users/app")):
        r = _call(api_url, other_tenant, method, f"/instances/{instance_id}/{path}")
        assert r.status_code == 404, r.text
        assert (r.json()["resource"], r.json()["resource_id"]) == ("instance", instance_id)


def test_writes_wait_for_a_ready_instance(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant)
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = "restarting"
    body = {"name": "app", "password": OK_PW, "is_admin": False}
    r = _call(api_url, tenant, "POST", f"/instances/{instance_id}/users", body)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "transient_state"
    assert r.json()["current_state"] == "restarting"
    assert _operations(instance_id) == 0


def test_a_job_no_worker_takes_is_called_off_without_its_verifier(
    tenant: Tenant, worker: Service
) -> None:
    worker.stop()  # (the session's worker would take the job: this test is about none doing so)
    try:
        _called_off_without_its_verifier(tenant)
    finally:
        worker.start()


def _called_off_without_its_verifier(tenant: Tenant) -> None:
    instance_id = instance_row(tenant)
    principal = Principal(
        access_key=tenant.access_key,
        organization_id=tenant.organization_id,
        project_ids=frozenset({tenant.project_id}),
        default_project_id=tenant.project_id,
    )
    with session_factory()() as session:
        submitted = engine_objects.create_user(
            session, principal, "fr-par", instance_id, "app", OK_PW, is_admin=False
        )
    with pytest.raises(TransientState):
        asyncio.run(engine_objects.outcome(submitted, timeout=0.3))
    with session_factory()() as session:
        op = session.get(Operation, submitted.operation_id)
        assert op is not None and op.status == OperationStatus.FAILED
        assert "verifier" not in op.params
