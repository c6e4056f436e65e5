"""Every request is authenticated; a key sees only its own organization's projects."""

from __future__ import annotations

import httpx
import pytest

from tests.support.rows import instance_row
from tests.support.tenants import Tenant

BASE = "/rdb/v1/regions/fr-par"


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": ""}])
def test_missing_token_is_denied(api_url: str, headers: dict[str, str]) -> None:
    r = httpx.get(f"{api_url}{BASE}/instances", headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "type": "denied_authentication",
        "message": "authentication is denied",
        "method": "api_key",
        "reason": "invalid_argument",
    }


def test_unknown_key_is_denied(api_url: str) -> None:
    r = httpx.get(
        f"{api_url}{BASE}/instances",
        headers={"X-Auth-Token": "00000000-0000-4000-8000-000000000000"},
    )
    assert r.status_code == 401
    assert r.json()["type"] == "denied_authentication" and r.json()["reason"] == "not_found"


def test_every_rdb_route_requires_a_key(api_url: str) -> None:
    for path in ("/instances", "/node-types", "/database-engines", "/instances/abc"):
        assert httpx.get(f"{api_url}{BASE}{path}").status_code == 401


def test_cross_organization_access_is_refused(
    api_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = instance_row(other_tenant, name="auth-probe")

    r = httpx.get(f"{api_url}{BASE}/instances/{theirs}", headers=tenant.headers)
    assert r.status_code == 404
    assert r.json() == {
        "type": "not_found",
        "message": "resource is not found",
        "resource": "instance",
        "resource_id": theirs,
    }
    assert (
        httpx.get(f"{api_url}{BASE}/instances/{theirs}", headers=other_tenant.headers).status_code
        == 200
    )
    assert (
        httpx.delete(f"{api_url}{BASE}/instances/{theirs}", headers=tenant.headers).status_code
        == 404
    )
    patch = httpx.patch(
        f"{api_url}{BASE}/instances/{theirs}", headers=tenant.headers, json={"name": "x"}
    )
    assert patch.status_code == 404

    listed = httpx.get(
        f"{api_url}{BASE}/instances",
        headers=tenant.headers,
        params={"organization_id": other_tenant.organization_id},
    ).json()
    assert listed == {"instances": [], "total_count": 0}
    mine = httpx.get(f"{api_url}{BASE}/instances", headers=tenant.headers).json()
    assert theirs not in [i["id"] for i in mine["instances"]]

    create = httpx.post(
        f"{api_url}{BASE}/instances",
        headers=tenant.headers,
        json={
            "project_id": other_tenant.project_id,
            "engine": "PostgreSQL-15",
            "node_type": "db-dev-s",
            "user_name": "admin",
            "password": "Passw0rd!x",
            "is_ha_cluster": False,
            "name": "intruder",
        },
    )
    assert create.status_code == 403
    assert create.json()["type"] == "permissions_denied"
    assert create.json()["details"][0]["resource"] == f"project:{other_tenant.project_id}"


def test_unknown_region_is_invalid_arguments(api_url: str, tenant: Tenant) -> None:
    r = httpx.get(f"{api_url}/rdb/v1/regions/xx-yyy/instances", headers=tenant.headers)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "invalid_arguments" and body["details"][0]["argument_name"] == "region"
