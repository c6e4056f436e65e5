"""Backups through the API on row-only instances and backup rows (no containers): the wire
shape, listing (filters, orders, paging), tenancy, and what is refused with nothing changed
(no status move, no operation): a busy instance, bad names and expiries, a restore into
another engine family or a busy instance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from controlplane.db.models import DatabaseBackup, Instance, Operation
from controlplane.db.session import session_factory, session_scope
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

BASE = "/rdb/v1/regions/fr-par/backups"
KEYS = {
    "id",
    "instance_id",
    "database_name",
    "name",
    "status",
    "size",
    "expires_at",
    "created_at",
    "updated_at",
    "instance_name",
    "download_url",
    "download_url_expires_at",
    "same_region",
    "region",
}


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("backups")


def _call(
    api_url: str, tenant: Tenant, method: str, path: str = "", body: Any = None, **params: Any
) -> httpx.Response:
    headers = {**tenant.headers, "Content-Type": "application/json; charset=utf-8"}
    return httpx.request(
        method,
        f"{api_url}{BASE}{path}",
        headers=headers,
        content=json.dumps(body or {}),
        params=params,
    )


def _backup_row(tenant: Tenant, instance_id: str, name: str, status: str = "ready") -> str:
    with session_scope() as session:
        row = DatabaseBackup(
            organization_id=tenant.organization_id,
            project_id=tenant.project_id,
            region="fr-par",
            instance_id=instance_id,
            instance_name="src",
            engine="PostgreSQL-15",
            database_name="rdb",
            name=name,
            status=status,
            tags=[],
            size=123,
            same_region=False,
        )
        session.add(row)
        session.flush()
        return row.id


def _operations(resource_id: str) -> list[str]:
    with session_factory()() as session:
        found = session.scalars(select(Operation.kind).where(Operation.resource_id == resource_id))
        return list(found)


def _instance_status(instance_id: str, status: str | None = None, engine: str | None = None) -> str:
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = status or row.status
        row.engine = engine or row.engine
        return row.status


def test_get_and_list_with_filters_orders_and_paging(api_url: str, tenant: Tenant) -> None:
    source = instance_row(tenant, name="bkp-src")
    ids = [_backup_row(tenant, source, name) for name in ("charlie", "alpha", "bravo")]
    got = _call(api_url, tenant, "GET", f"/{ids[0]}")
    assert got.status_code == 200 and set(got.json()) == KEYS
    body = got.json()
    assert (body["status"], body["size"], body["download_url"], body["region"]) == (
        "ready",
        123,
        None,
        "fr-par",
    )
    listed = _call(api_url, tenant, "GET", instance_id=source, order_by="name_asc").json()
    assert [b["name"] for b in listed["database_backups"]] == ["alpha", "bravo", "charlie"]
    assert listed["total_count"] == 3
    page = _call(
        api_url, tenant, "GET", instance_id=source, order_by="name_desc", page=2, page_size=1
    ).json()
    assert [b["name"] for b in page["database_backups"]] == ["bravo"] and page["total_count"] == 3
    named = _call(api_url, tenant, "GET", name="LPH").json()
    assert [b["id"] for b in named["database_backups"]] == [ids[1]]
    assert _call(api_url, tenant, "GET", order_by="size_asc").status_code == 400
    # Another organization sees nothing of them.
    other = new_tenant("backups-other")
    assert _call(api_url, other, "GET", f"/{ids[0]}").status_code == 404
    assert _call(api_url, other, "GET", instance_id=source).json()["total_count"] == 0
    missing = _call(api_url, tenant, "GET", "/00000000-0000-0000-0000-000000000000").json()
    assert (missing["type"], missing["resource"]) == ("not_found", "database_backup")


def test_refused_creates_change_nothing(api_url: str, tenant: Tenant) -> None:
    source = instance_row(tenant, name="bkp-refusals")
    bad_name = _call(
        api_url,
        tenant,
        "POST",
        body={"instance_id": source, "database_name": "bad name!", "name": "x"},
    )
    assert bad_name.status_code == 400
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = _call(
        api_url,
        tenant,
        "POST",
        body={"instance_id": source, "database_name": "rdb", "name": "x", "expires_at": past},
    )
    assert expired.status_code == 400
    _instance_status(source, "configuring")
    busy = _call(api_url, tenant, "POST", body={"instance_id": source, "database_name": "rdb"})
    assert busy.status_code == 409 and busy.json()["type"] == "transient_state"
    with session_factory()() as session:
        rows = session.scalars(select(DatabaseBackup).where(DatabaseBackup.instance_id == source))
        assert list(rows) == []


def test_refused_restores_change_nothing(api_url: str, tenant: Tenant) -> None:
    source = instance_row(tenant, name="bkp-restore-src")
    backup = _backup_row(tenant, source, "to-restore")
    mariadb = instance_row(tenant, name="bkp-mariadb")
    _instance_status(mariadb, engine="MariaDB-10.11")
    other_family = _call(api_url, tenant, "POST", f"/{backup}/restore", {"instance_id": mariadb})
    assert other_family.status_code == 412, other_family.text
    assert _instance_status(mariadb) == "ready"
    _instance_status(source, "configuring")
    busy = _call(api_url, tenant, "POST", f"/{backup}/restore", {"instance_id": source})
    assert busy.status_code == 409 and busy.json()["resource"] == "instance"
    bad = _call(
        api_url,
        tenant,
        "POST",
        f"/{backup}/restore",
        {"instance_id": mariadb, "database_name": "no good"},
    )
    assert bad.status_code in (400, 412)
    assert _call(api_url, tenant, "GET", f"/{backup}").json()["status"] == "ready"
    assert _operations(backup) == []


def test_update_renames_and_refuses_a_past_expiry(api_url: str, tenant: Tenant) -> None:
    backup = _backup_row(tenant, instance_row(tenant, name="bkp-update"), "old-name")
    future = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    renamed = _call(
        api_url,
        tenant,
        "PATCH",
        f"/{backup}",
        {"name": "new-name", "expires_at": future.isoformat()},
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "new-name"
    assert renamed.json()["expires_at"] == future.strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    refused = _call(api_url, tenant, "PATCH", f"/{backup}", {"expires_at": past})
    assert refused.status_code == 400
