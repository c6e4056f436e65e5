"""Restart and upgrade refusals: each a clear error in the Scaleway format that changes nothing
(the instance rows stay as they were, no operation is recorded)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory, session_scope
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

BASE = "/rdb/v1/regions/fr-par/instances"


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("upgrade-rules")


def _state(instance_id: str) -> tuple[Any, ...]:
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        ops = session.scalar(
            select(func.count()).select_from(Operation).where(Operation.resource_id == instance_id)
        )
        return (row.status, row.node_type, row.volume_type, row.volume_size, row.is_ha_cluster,
                ops)  # fmt: skip


REFUSED = [
    ("no target", {}, "invalid_arguments"),
    ("two targets", {"node_type": "db-dev-m", "volume_size": 20_000_000_000}, "invalid_arguments"),
    ("disable HA", {"enable_ha": False}, "invalid_arguments"),
    ("multi-zone HA", {"high_availability_mode": "multiple_zone"}, "invalid_arguments"),
    ("unknown node type", {"node_type": "db-huge-xxl"}, "invalid_arguments"),
    ("same node type", {"node_type": "db-dev-s"}, "invalid_arguments"),
    ("grow lssd", {"volume_size": 20_000_000_000}, "invalid_arguments"),
    ("same volume type", {"volume_type": "lssd"}, "invalid_arguments"),
    ("unknown volume type", {"volume_type": "nvme"}, "invalid_arguments"),
    ("encryption", {"enable_encryption": True}, "invalid_arguments"),
    ("major upgrade", {"upgradable_version_id": "11111111-1111-4111-8111-111111111111"},
     "invalid_arguments"),
    ("major workflow", {"major_upgrade_workflow": {"upgradable_version_id": "x"}},
     "invalid_arguments"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "error"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_upgrades_change_nothing(
    api_url: str, tenant: Tenant, case: str, body: dict[str, Any], error: str
) -> None:
    instance_id = instance_row(tenant, name=f"rules-{case}")
    before = _state(instance_id)
    r = httpx.post(f"{api_url}{BASE}/{instance_id}/upgrade", headers=tenant.headers, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == error
    assert r.json()["details"][0]["help_message"]
    assert _state(instance_id) == before


def test_shrinking_a_block_volume_is_refused(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="rules-shrink")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.volume_type, row.volume_size = "sbs_5k", 20_000_000_000
    before = _state(instance_id)
    for size in (10_000_000_000, 20_000_000_000, 22_000_000_000):  # smaller, same, off-chunk
        r = httpx.post(f"{api_url}{BASE}/{instance_id}/upgrade", headers=tenant.headers,
                       json={"volume_size": size})  # fmt: skip
        assert r.status_code == 400 and r.json()["details"][0]["argument_name"] == "volume_size"
    assert _state(instance_id) == before


@pytest.mark.parametrize("status", ["provisioning", "configuring", "restarting", "deleting"])
def test_no_upgrade_or_restart_while_transient(api_url: str, tenant: Tenant, status: str) -> None:
    instance_id = instance_row(tenant, name=f"rules-{status}")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = status
    before = _state(instance_id)
    for path, body in (("upgrade", {"node_type": "db-dev-m"}), ("restart", {})):
        r = httpx.post(f"{api_url}{BASE}/{instance_id}/{path}", headers=tenant.headers, json=body)
        assert r.status_code == 409, r.text
        assert r.json()["type"] == "transient_state" and r.json()["current_state"] == status
    assert _state(instance_id) == before


def test_a_node_type_too_small_for_max_connections_is_refused(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="rules-connections")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.node_type = "db-dev-m"
        row.settings = [{"name": "max_connections", "value": "400"}]
    before = _state(instance_id)
    r = httpx.post(f"{api_url}{BASE}/{instance_id}/upgrade", headers=tenant.headers,
                   json={"node_type": "db-dev-s"})  # fmt: skip
    assert r.status_code == 400
    assert "max_connections" in r.json()["details"][0]["help_message"]
    assert _state(instance_id) == before


def _instances(tenant: Tenant) -> int:
    with session_factory()() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Instance)
            .where(Instance.organization_id == tenant.organization_id)
        )
        return int(count or 0)


CLONES_REFUSED = [
    ("no name", {}),
    ("unknown node type", {"name": "c", "node_type": "db-huge-xxl"}),
    ("too few connections", {"name": "c", "node_type": "db-dev-s"}),
]


@pytest.mark.parametrize(("case", "body"), CLONES_REFUSED, ids=[c[0] for c in CLONES_REFUSED])
def test_refused_clones_change_nothing(
    api_url: str, tenant: Tenant, case: str, body: dict[str, Any]
) -> None:
    """A clone onto a node type that cannot hold the source's max_connections is refused."""
    instance_id = instance_row(tenant, name=f"clone-{case}")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.node_type = "db-dev-m"
        row.settings = [{"name": "max_connections", "value": "400"}]
    before, count = _state(instance_id), _instances(tenant)
    r = httpx.post(f"{api_url}{BASE}/{instance_id}/clone", headers=tenant.headers, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "invalid_arguments"
    assert _state(instance_id) == before and _instances(tenant) == count


def test_apply_maintenance_with_nothing_pending(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="rules-maintenance")
    before = _state(instance_id)
    r = httpx.post(f"{api_url}{BASE}/{instance_id}/apply-maintenance", headers=tenant.headers,
                   json={})  # fmt: skip
    assert r.status_code == 412, r.text
    assert r.json()["type"] == "precondition_failed"
    assert "no pending maintenance" in r.json()["help_message"]
    assert _state(instance_id) == before
