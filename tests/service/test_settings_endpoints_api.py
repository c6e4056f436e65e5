"""Settings and endpoints through the API on row-only instances (no containers, no worker): what
is refused changes nothing and records no job; what is accepted records the desired state, the
state machine's status and one operation. Also the raw certificate download and the 404 body of
paths no route serves."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from controlplane import certificates
from controlplane.db.models import Endpoint, Instance, Operation, PortAllocation
from controlplane.db.session import session_factory, session_scope
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

BASE = "/rdb/v1/regions/fr-par"
PG_DEFAULTS = [
    {"name": "effective_cache_size", "value": "1300"},
    {"name": "maintenance_work_mem", "value": "150"},
    {"name": "max_connections", "value": "100"},
    {"name": "max_parallel_workers", "value": "0"},
    {"name": "max_parallel_workers_per_gather", "value": "0"},
    {"name": "work_mem", "value": "4"},
]


pytestmark = pytest.mark.usefixtures("no_worker")


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("settings-endpoints")


def _ready_row(tenant: Tenant, name: str, endpoint_port: int | None = None) -> str:
    """A ready row-only PostgreSQL instance showing its default settings (and, optionally, a
    load-balancer endpoint on ``endpoint_port``)."""
    instance_id = instance_row(tenant, name=name)
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.settings = [dict(s) for s in PG_DEFAULTS]
        issued = certificates.issue(row.id, row.region, ["127.0.0.1"])
        row.tls_cert = issued.cert_pem
        if endpoint_port is not None:
            row.endpoints.append(Endpoint(kind="load_balancer", ip="127.0.0.1", port=endpoint_port))
            session.add(
                PortAllocation(port=endpoint_port, owner_id=row.id, purpose="load_balancer")
            )
    return instance_id


def _state(instance_id: str) -> tuple[Any, ...]:
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        ops = session.scalars(
            select(Operation.kind).where(Operation.resource_id == instance_id)
        ).all()
        endpoints = sorted((e.id, e.port) for e in row.endpoints)
        return row.status, row.settings, sorted(ops), endpoints, row.load_balancer_released


REFUSED: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown name", "post", {"settings": [{"name": "nope", "value": "1"}]}, "settings.0.name"),
    ("not an integer", "put", {"settings": [{"name": "work_mem", "value": "8MB"}]},
     "settings.0.value"),
    ("out of range", "post", {"settings": [{"name": "work_mem", "value": "4096"}]},
     "settings.0.value"),
    ("init setting", "put", {"settings": [{"name": "lc_collate", "value": "C"}]},
     "settings.0.name"),
    ("more connections than the node type holds", "post",
     {"settings": [{"name": "max_connections", "value": "1000"}]}, "settings.0.value"),
    ("delete an unknown name", "delete", {"setting_names": ["work_mem", "nope"]},
     "setting_names.1"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "method", "body", "argument"), REFUSED,
                         ids=[r[0] for r in REFUSED])  # fmt: skip
def test_refused_settings_change_nothing(
    api_url: str, tenant: Tenant, case: str, method: str, body: dict[str, Any], argument: str
) -> None:
    instance_id = _ready_row(tenant, f"settings-{case}")
    before = _state(instance_id)
    url = f"{api_url}{BASE}/instances/{instance_id}/settings"
    r = httpx.request(method.upper(), url, headers=tenant.headers, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "invalid_arguments"
    assert r.json()["details"][0]["argument_name"] == argument
    assert _state(instance_id) == before


def test_terraform_put_records_the_set_and_one_job(api_url: str, tenant: Tenant) -> None:
    """Terraform's body after create: PUT {"settings": [{"name": "work_mem", "value": "8"}]}."""
    instance_id = _ready_row(tenant, "settings-terraform")
    url = f"{api_url}{BASE}/instances/{instance_id}/settings"
    body = {"settings": [{"name": "work_mem", "value": "8"}]}
    r = httpx.put(url, headers=tenant.headers, json=body)
    assert r.status_code == 200, r.text
    expected = [s if s["name"] != "work_mem" else {"name": "work_mem", "value": "8"}
                for s in PG_DEFAULTS]  # fmt: skip
    assert r.json() == {"settings": expected}
    status, settings, ops, _endpoints, _released = _state(instance_id)
    assert (status, settings, ops) == ("configuring", expected, ["apply_settings"])
    again = httpx.put(url, headers=tenant.headers, json=body)  # while configuring
    assert again.status_code == 409 and again.json()["type"] == "transient_state"


def test_a_change_to_nothing_new_starts_no_job(api_url: str, tenant: Tenant) -> None:
    instance_id = _ready_row(tenant, "settings-unchanged")
    before = _state(instance_id)
    url = f"{api_url}{BASE}/instances/{instance_id}/settings"
    # Python sends its DELETE body without a Content-Type
    r = httpx.request("DELETE", url, headers=tenant.headers,
                      content=b'{"setting_names": ["work_mem"]}')  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"settings": PG_DEFAULTS}
    r = httpx.post(
        url, headers=tenant.headers, json={"settings": [{"name": "work_mem", "value": "4"}]}
    )
    assert r.status_code == 200 and _state(instance_id) == before


def test_settings_of_an_unknown_instance(api_url: str, tenant: Tenant) -> None:
    url = f"{api_url}{BASE}/instances/00000000-0000-4000-8000-000000000000/settings"
    r = httpx.put(url, headers=tenant.headers, json={"settings": []})
    assert r.status_code == 404
    assert r.json()["resource"] == "instance"


def test_certificate_download_is_the_raw_pem(api_url: str, tenant: Tenant) -> None:
    instance_id = _ready_row(tenant, "certificate")
    url = f"{api_url}{BASE}/instances/{instance_id}/certificate"
    wrapped = httpx.get(url, headers=tenant.headers)
    assert wrapped.headers["content-type"] == "application/json"
    pem = base64.b64decode(wrapped.json()["content"])
    raw = httpx.get(url, headers=tenant.headers, params={"dl": 1})
    assert raw.status_code == 200
    assert raw.content == pem and raw.content.startswith(b"-----BEGIN CERTIFICATE-----")
    assert raw.headers["content-type"] == "application/x-pem-file"
    assert raw.headers["content-disposition"] == 'attachment; filename="ssl_certificate.pem"'


@pytest.mark.parametrize(
    ("method", "path", "resource", "resource_id"),
    [
        ("GET", "/instances/{id}/no-such-thing", "no_such_thing", "{id}"),
        ("GET", "/instances/{id}/users/bob/extra", "extra", "bob"),
        ("POST", "/nothing-here", "nothing_here", "/rdb/v1/regions/fr-par/nothing-here"),
    ],
)
def test_unknown_routes_name_a_resource(
    api_url: str, tenant: Tenant, method: str, path: str, resource: str, resource_id: str
) -> None:
    instance_id = "11111111-2222-4333-8444-555555555555"
    r = httpx.request(method, f"{api_url}{BASE}{path.format(id=instance_id)}",
                      headers=tenant.headers, json={})  # fmt: skip
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "type": "not_found",
        "message": "resource is not found",
        "resource": resource,
        "resource_id": resource_id.format(id=instance_id),
    }


def test_endpoint_get_delete_create_record_the_desired_state(api_url: str, tenant: Tenant) -> None:
    instance_id = _ready_row(tenant, "endpoints", endpoint_port=39123)
    ((endpoint_id, port),) = _state(instance_id)[3]
    r = httpx.get(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json() == {"id": endpoint_id, "ip": "127.0.0.1", "port": port, "name": None,
                        "load_balancer": {}}  # fmt: skip

    spec = {"endpoint_spec": {"load_balancer": {}}}
    url = f"{api_url}{BASE}/instances/{instance_id}/endpoints"
    r = httpx.post(url, headers=tenant.headers, json=spec)
    assert r.status_code == 400 and "at most one" in r.json()["details"][0]["help_message"]
    pn = {"endpoint_spec": {"private_network": {"private_network_id": instance_id,
                                                "service_ip": "10.0.0.5/24"}}}  # fmt: skip
    r = httpx.post(url, headers=tenant.headers, json=pn)
    assert r.status_code == 400
    assert r.json()["details"][0]["argument_name"] == "endpoint_spec.private_network"

    r = httpx.delete(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=tenant.headers)
    assert r.status_code == 204 and r.content == b""
    assert _state(instance_id)[0::2] == ("configuring", ["delete_endpoint"], True)
    r = httpx.get(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=tenant.headers)
    assert r.status_code == 404
    assert r.json()["resource"] == "endpoint" and r.json()["resource_id"] == endpoint_id

    with session_scope() as session:  # as the job leaves it
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = "ready"
    r = httpx.post(url, headers=tenant.headers, json=spec)
    assert r.status_code == 200, r.text
    created = r.json()
    assert set(created) == {"id", "ip", "port", "name", "load_balancer"}
    status, _settings, ops, endpoints, released = _state(instance_id)
    assert (status, released) == ("initializing", False)
    assert ops == ["create_endpoint", "delete_endpoint"]
    assert endpoints == [(created["id"], created["port"])]


def test_endpoint_migration_rules(api_url: str, tenant: Tenant) -> None:
    source = _ready_row(tenant, "migrate-source", endpoint_port=39124)
    target = _ready_row(tenant, "migrate-target", endpoint_port=39125)
    ((endpoint_id, _port),) = _state(source)[3]
    url = f"{api_url}{BASE}/endpoints/{endpoint_id}/migrate"
    r = httpx.post(url, headers=tenant.headers, json={"instance_id": target})
    assert r.status_code == 400 and "at most one" in r.json()["details"][0]["help_message"]
    r = httpx.post(url, headers=tenant.headers, json={"instance_id": source})
    assert r.status_code == 400
    other = new_tenant("settings-endpoints-other")
    foreign = _ready_row(other, "foreign")
    r = httpx.post(url, headers=tenant.headers, json={"instance_id": foreign})
    assert r.status_code == 404 and r.json()["resource"] == "instance"
    r = httpx.get(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=other.headers)
    assert r.status_code == 404 and r.json()["resource"] == "endpoint"

    bare = _ready_row(tenant, "migrate-bare")
    with session_scope() as session:
        row = session.get(Instance, bare)
        assert row is not None
        row.load_balancer_released = True
    r = httpx.post(url, headers=tenant.headers, json={"instance_id": bare})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == endpoint_id
    assert _state(source)[0] == "configuring"
    assert _state(bare)[0::2] == ("configuring", ["migrate_endpoint"], True)
    with session_factory()() as session:
        count = session.scalar(select(func.count()).select_from(Endpoint).where(
            Endpoint.id == endpoint_id, Endpoint.instance_id == source))  # fmt: skip
        assert count == 1  # the job moves it


def test_a_read_replica_endpoint_is_read_and_deleted_too(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="replica-endpoint", replicas=1)
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        (replica,) = row.read_replicas
        endpoint = Endpoint(kind="direct_access", ip="127.0.0.1", port=39126,
                            read_replica_id=replica.id)  # fmt: skip
        row.endpoints.append(endpoint)
        session.flush()
        endpoint_id = endpoint.id
    r = httpx.get(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["direct_access"] == {}
    r = httpx.delete(f"{api_url}{BASE}/endpoints/{endpoint_id}", headers=tenant.headers)
    assert r.status_code == 204, r.text
    with session_factory()() as session:
        op = session.scalar(select(Operation).where(Operation.resource_id == instance_id))
        assert op is not None
        assert (op.kind, op.params) == ("delete_endpoint", {"kind": "direct_access", "node": "r1"})
        assert session.get(Endpoint, endpoint_id) is None
    assert _state(instance_id)[0::4] == ("configuring", False)
