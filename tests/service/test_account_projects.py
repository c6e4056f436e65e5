"""GET /account/v3/projects (the console's project switcher) and the console's static files."""

from __future__ import annotations

import httpx

from controlplane.db.session import session_scope
from controlplane.services import tenancy
from tests.support.tenants import Tenant, new_tenant


def test_a_key_lists_only_its_organizations_projects(
    api_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = httpx.get(f"{api_url}/account/v3/projects", headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_count"] == len(body["projects"]) >= 1
    assert {p["organization_id"] for p in body["projects"]} == {tenant.organization_id}
    assert tenant.project_id in {p["id"] for p in body["projects"]}
    assert other_tenant.project_id not in {p["id"] for p in body["projects"]}
    assert set(body["projects"][0]) == {
        "id",
        "name",
        "organization_id",
        "created_at",
        "updated_at",
        "description",
    }


def test_projects_are_paginated_filtered_and_ordered(api_url: str) -> None:
    owner = new_tenant("many-projects")
    with session_scope() as session:
        for name in ("beta", "alpha", "gamma"):
            tenancy.create_project(session, owner.organization_id, name)
    url = f"{api_url}/account/v3/projects"

    first = httpx.get(url, params={"page_size": 2, "order_by": "name_asc"}, headers=owner.headers)
    second = httpx.get(
        url, params={"page_size": 2, "page": 2, "order_by": "name_asc"}, headers=owner.headers
    )
    names = [p["name"] for p in first.json()["projects"] + second.json()["projects"]]
    assert names == ["alpha", "beta", "default", "gamma"]
    assert first.json()["total_count"] == second.json()["total_count"] == 4

    named = httpx.get(url, params={"name": "amm"}, headers=owner.headers).json()
    assert [p["name"] for p in named["projects"]] == ["gamma"] and named["total_count"] == 1


def test_another_organization_or_a_bad_argument_is_refused(
    api_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{api_url}/account/v3/projects"
    theirs = httpx.get(
        url, params={"organization_id": other_tenant.organization_id}, headers=tenant.headers
    )
    assert theirs.status_code == 403 and theirs.json()["type"] == "permissions_denied"
    mine = httpx.get(
        url, params={"organization_id": tenant.organization_id}, headers=tenant.headers
    )
    assert mine.status_code == 200
    bad = httpx.get(url, params={"order_by": "size"}, headers=tenant.headers)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["argument_name"] == "order_by"
    assert httpx.get(url).status_code == 401


def test_the_console_is_served_offline_and_nothing_else_is(api_url: str) -> None:
    index = httpx.get(f"{api_url}/console/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "http" not in index.text  # no asset from elsewhere
    script = httpx.get(f"{api_url}/console/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    etag = script.headers["etag"]
    again = httpx.get(f"{api_url}/console/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert httpx.get(f"{api_url}/console", follow_redirects=False).status_code == 307
    assert httpx.get(f"{api_url}/console/config.json").json() == {"regions": ["fr-par"]}
    for name in ("missing.js", "..%2Fapi%2Froutes%2Fconsole.py", "%2E%2E%2Fsecrets.py"):
        r = httpx.get(f"{api_url}/console/{name}")
        assert r.status_code == 404, name
