"""Quotas are set and shown with the admin CLI, and the API refuses beyond them in the
Scaleway error format, changing nothing."""

from __future__ import annotations

import json

import httpx
import pytest

from controlplane import cli
from tests.support.tenants import Tenant, new_tenant

BASE = "/rdb/v1/regions/fr-par"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert cli.main(list(argv)) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_quotas_set_show_and_enforced(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    tenant: Tenant = new_tenant("quota-cli")
    org = tenant.organization_id
    shown = _cli(capsys, "quota", "show", "--organization-id", org)
    assert shown["usage"] == {"instances": 0, "memory_bytes": 0, "volume_bytes": 0}
    assert shown["set_explicitly"] == {
        "instances": False,
        "memory_bytes": False,
        "volume_bytes": False,
    }
    changed = _cli(capsys, "quota", "set", "--organization-id", org, "--instances", "0",
                   "--memory", "16GiB", "--volume", "500GB")  # fmt: skip
    assert changed["quota"] == {
        "instances": 0,
        "memory_bytes": 16 * 2**30,
        "volume_bytes": 500 * 10**9,
    }

    body = {
        "engine": "PostgreSQL-15",
        "name": "over-quota",
        "user_name": "admin",
        "password": "Passw0rd!x",
        "node_type": "db-dev-s",
        "volume_type": "lssd",
    }
    response = httpx.post(f"{api_url}{BASE}/instances", json=body, headers=tenant.headers)
    assert response.status_code == 403
    assert response.json() == {
        "type": "quotas_exceeded",
        "message": "quota(s) exceeded for this resource",
        "details": [{"resource": "instances", "current": 0, "quota": 0}],
    }
    listed = httpx.get(f"{api_url}{BASE}/instances", headers=tenant.headers).json()
    assert listed["total_count"] == 0

    restored = _cli(capsys, "quota", "set", "--organization-id", org, "--instances", "default")
    assert restored["set_explicitly"] == {
        "instances": False,
        "memory_bytes": True,
        "volume_bytes": True,
    }
    assert cli.main(["quota", "show", "--organization-id", "no-such-org"]) == 2
