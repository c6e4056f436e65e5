"""Every invalid create is refused with invalid_arguments and per-field details; nothing changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory
from tests.support.tenants import Tenant, new_tenant

BASE = "/rdb/v1/regions/fr-par"
ENGINES = {"postgresql": "PostgreSQL-15", "mysql": "MariaDB-10.11"}


def _valid(engine: str) -> dict[str, Any]:
    return {
        "engine": engine,
        "name": "valid",
        "user_name": "admin",
        "password": "Passw0rd!x",
        "node_type": "db-dev-s",
        "is_ha_cluster": False,
        "disable_backup": True,
        "volume_type": "lssd",
        "volume_size": 0,
        "backup_same_region": False,
    }


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case id, overrides, argument_name, reason)
    ("unknown engine", {"engine": "Oracle-23"}, "engine", "constraint"),
    ("unknown node type", {"node_type": "db-huge-xxl"}, "node_type", "constraint"),
    ("short password", {"password": "Pa1!"}, "password", "constraint"),
    ("password without digit", {"password": "Password!!"}, "password", "constraint"),
    ("password without upper", {"password": "passw0rd!!"}, "password", "constraint"),
    ("password without lower", {"password": "PASSW0RD!!"}, "password", "constraint"),
    ("password without special", {"password": "Passw0rdxx"}, "password", "constraint"),
    ("password too long", {"password": "Aa1!" * 40}, "password", "constraint"),
    ("user name with a digit first", {"user_name": "1admin"}, "user_name", "constraint"),
    ("user name with a space", {"user_name": "ad min"}, "user_name", "constraint"),
    ("reserved user name", {"user_name": "_rdb_admin"}, "user_name", "constraint"),
    ("user name without password", {"password": ""}, "password", "constraint"),
    ("unknown volume type", {"volume_type": "nvme"}, "volume_type", "constraint"),
    (
        "block volume without size",
        {"volume_type": "sbs_5k", "volume_size": 0},
        "volume_size",
        "required",
    ),
    (
        "block volume too small",
        {"volume_type": "sbs_5k", "volume_size": 1_000_000_000},
        "volume_size",
        "constraint",
    ),
    (
        "block volume not in chunks",
        {"volume_type": "sbs_5k", "volume_size": 7_000_000_000},
        "volume_size",
        "constraint",
    ),
    ("lssd with a size", {"volume_size": 123}, "volume_size", "constraint"),
    (
        "unknown init setting",
        {"init_settings": [{"name": "nope", "value": "1"}]},
        "init_settings.0.name",
        "constraint",
    ),
    ("tag too long", {"tags": ["x" * 500]}, "tags.0", "constraint"),
    ("name too long", {"name": "n" * 300}, "name", "constraint"),
    (
        "private network endpoint",
        {
            "init_endpoints": [
                {
                    "private_network": {
                        "private_network_id": "11111111-1111-4111-8111-111111111111",
                        "service_ip": "10.0.0.5/24",
                    }
                }
            ]
        },
        "init_endpoints.0.private_network",
        "constraint",
    ),
    ("user name with a newline", {"user_name": "admin\n"}, "user_name", "constraint"),
    ("name with a control character", {"name": "a\x07b"}, "name", "format"),
    ("name with a bidi override", {"name": "invoice\u202egpj.exe"}, "name", "format"),
    ("name with a zero-width space", {"name": "ad\u200bmin"}, "name", "format"),
    ("tag with a zero-width joiner", {"tags": ["a\u200db"]}, "tags.0", "constraint"),
    ("missing engine", {"engine": None}, "engine", "required"),
    ("volume size not a number", {"volume_size": "lots"}, "volume_size", "format"),
]


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    """A tenant of its own: other tests' instances come and go meanwhile."""
    return new_tenant("validation")


def _counts(tenant: Tenant) -> tuple[int, int]:
    """The tenant's instances and provisioning operations (other tests' jobs run meanwhile)."""
    with session_factory()() as session:
        instances = select(Instance.id).where(Instance.organization_id == tenant.organization_id)
        return (
            session.scalar(select(func.count()).select_from(instances.subquery())) or 0,
            session.scalar(
                select(func.count())
                .select_from(Operation)
                .where(Operation.kind == "provision_instance")
            )
            or 0,
        )


@pytest.mark.parametrize("family", sorted(ENGINES))
@pytest.mark.parametrize(
    ("case", "overrides", "argument", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_invalid_create_is_refused_and_changes_nothing(
    api_url: str,
    tenant: Tenant,
    family: str,
    case: str,
    overrides: dict[str, Any],
    argument: str,
    reason: str,
) -> None:
    body = {**_valid(ENGINES[family]), **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    before = _counts(tenant)
    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, json=body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["type"] == "invalid_arguments" and error["message"] == "invalid argument(s)"
    details = {d["argument_name"]: d for d in error["details"]}
    assert argument in details, error
    assert details[argument]["reason"] == reason
    assert details[argument]["help_message"]
    assert _counts(tenant) == before


def test_all_errors_are_reported_at_once(api_url: str, tenant: Tenant) -> None:
    body = {**_valid("PostgreSQL-15"), "node_type": "nope", "password": "weak", "user_name": "9x"}
    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, json=body)
    names = {d["argument_name"] for d in r.json()["details"]}
    assert {"node_type", "password", "user_name"} <= names


def test_bad_settings_value_names_the_field(api_url: str, tenant: Tenant) -> None:
    body = {
        **_valid("PostgreSQL-15"),
        "init_settings": [{"name": "lc_collate", "value": "klingon"}],
    }
    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, json=body)
    assert r.status_code == 400
    assert r.json()["details"][0]["argument_name"] == "init_settings.0.value"


def test_malformed_json_is_invalid_arguments(api_url: str, tenant: Tenant) -> None:
    r = httpx.post(
        f"{api_url}{BASE}/instances",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert r.status_code == 400 and r.json()["type"] == "invalid_arguments"


def test_listing_rejects_unknown_order(api_url: str, tenant: Tenant) -> None:
    r = httpx.get(f"{api_url}{BASE}/instances", headers=tenant.headers, params={"order_by": "size"})
    assert r.status_code == 400 and r.json()["details"][0]["argument_name"] == "order_by"


def test_a_body_over_the_limit_is_refused_unread(api_url: str, tenant: Tenant) -> None:
    before = _counts(tenant)
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, content=huge)
    assert r.status_code == 413
    assert r.json()["type"] == "invalid_arguments"
    assert r.json()["details"][0]["argument_name"] == "body"

    def chunks() -> Any:  # no Content-Length: refused as it streams past the limit
        for _ in range(40):
            yield b"x" * 65536

    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, content=chunks())
    assert r.status_code == 413
    assert _counts(tenant) == before


def test_errors_do_not_echo_large_inputs(api_url: str, tenant: Tenant) -> None:
    body = {**_valid("PostgreSQL-15"), "engine": "E" * 500_000, "node_type": "N" * 500_000}
    r = httpx.post(f"{api_url}{BASE}/instances", headers=tenant.headers, json=body)
    assert r.status_code == 400
    assert len(r.content) < 2_000, len(r.content)
