"""Read-replica requests that must be refused, and refused without changing anything."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from controlplane.db.models import Operation, ReadReplica
from controlplane.db.session import session_factory
from tests.support.rows import instance_row
from tests.support.tenants import Tenant

BASE = "/rdb/v1/regions/fr-par"


def _counts(instance_id: str) -> tuple[int, int]:
    with session_factory()() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ReadReplica)
                .where(ReadReplica.instance_id == instance_id)
            )
            or 0,
            session.scalar(
                select(func.count())
                .select_from(Operation)
                .where(Operation.kind == "provision_replica")
            )
            or 0,
        )


def test_replica_quota_is_enforced(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, replicas=3)
    before = _counts(instance_id)
    r = httpx.post(
        f"{api_url}{BASE}/read-replicas", headers=tenant.headers, json={"instance_id": instance_id}
    )
    assert r.status_code == 403
    assert r.json() == {
        "type": "quotas_exceeded",
        "message": "quota(s) exceeded for this resource",
        "details": [{"resource": "read_replicas", "current": 3, "quota": 3}],
    }
    assert _counts(instance_id) == before
    listed = httpx.get(f"{api_url}{BASE}/instances/{instance_id}", headers=tenant.headers).json()
    assert len(listed["read_replicas"]) == 3


def test_private_network_replica_endpoint_is_refused(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant)
    before = _counts(instance_id)
    spec = {
        "private_network": {
            "private_network_id": "11111111-1111-4111-8111-111111111111",
            "service_ip": "10.0.0.5/24",
        }
    }
    r = httpx.post(
        f"{api_url}{BASE}/read-replicas",
        headers=tenant.headers,
        json={"instance_id": instance_id, "endpoint_spec": [spec]},
    )
    assert r.status_code == 400
    assert r.json()["details"][0]["argument_name"] == "endpoint_spec.0.private_network"
    assert _counts(instance_id) == before


def test_replicas_of_other_organizations_are_not_found(
    api_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    instance_id = instance_row(other_tenant, replicas=1)
    with session_factory()() as session:
        replica_id = session.scalar(
            select(ReadReplica.id).where(ReadReplica.instance_id == instance_id)
        )
    for method, path in [
        ("GET", f"/read-replicas/{replica_id}"),
        ("DELETE", f"/read-replicas/{replica_id}"),
        ("POST", f"/read-replicas/{replica_id}/promote"),
        ("POST", f"/read-replicas/{replica_id}/reset"),
    ]:
        r = httpx.request(method, f"{api_url}{BASE}{path}", headers=tenant.headers, json={})
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["resource"] == "read_replica"
    r = httpx.post(
        f"{api_url}{BASE}/read-replicas", headers=tenant.headers, json={"instance_id": instance_id}
    )
    assert r.status_code == 404 and r.json()["resource"] == "instance"
    r = httpx.get(f"{api_url}{BASE}/read-replicas/{replica_id}", headers=other_tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "ready"
