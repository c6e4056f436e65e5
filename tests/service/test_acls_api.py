"""ACL rules through the API on row-only instances (no containers; a worker running meanwhile
finds no proxy to change and settles the instance ``ready``): the wire shapes, what is
refused (nothing changes, no job), what is accepted (the rows, ``configuring`` and one
``apply_acl`` operation when the admitted networks change; nothing else when only descriptions
do), a delete of unknown networks, pagination, the guard on transient instances, tenancy."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from controlplane.db.models import AclRule, Endpoint, Instance, Node, Operation
from controlplane.db.session import session_factory, session_scope
from controlplane.domain import acl
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

pytestmark = pytest.mark.usefixtures("no_worker")

BASE = "/rdb/v1/regions/fr-par/instances"
DEFAULT = {
    "ip": "0.0.0.0/0",
    "port": 40123,
    "protocol": "tcp",
    "direction": "inbound",
    "action": "allow",
    "description": "Allow All",
}


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("acls")


def _row(tenant: Tenant, name: str = "acl-row") -> str:
    """A ready instance row with the default rule and a load-balancer endpoint (no containers)."""
    instance_id = instance_row(tenant, name=name)
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.acl_rules = [AclRule(ip=acl.DEFAULT_IP, description=acl.DEFAULT_DESCRIPTION)]
        row.endpoints.append(Endpoint(kind="load_balancer", ip="127.0.0.1", port=40123))
        row.nodes.append(Node(name="n1", role="primary"))  # a worker's job finds no container
    return instance_id


def _state(instance_id: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Status, rules (ip, description) in order, operations recorded."""
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        ops = session.scalars(select(Operation.kind).where(Operation.resource_id == instance_id))
        return row.status, [(r.ip, r.description) for r in row.acl_rules], list(ops)


def _set_status(instance_id: str, status: str) -> None:
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = status


def _call(
    api_url: str, tenant: Tenant, method: str, instance_id: str, body: Any = None, **params: Any
) -> httpx.Response:
    # Like the Python SDK: a JSON body on every method, without Content-Type on DELETE.
    headers = dict(tenant.headers)
    if method in ("POST", "PUT"):
        headers["Content-Type"] = "application/json; charset=utf-8"
    return httpx.request(
        method,
        f"{api_url}{BASE}/{instance_id}/acls",
        headers=headers,
        content=json.dumps(body if body is not None else {}),
        params=params,
    )


def test_a_new_instance_lists_the_default_rule(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    r = _call(api_url, tenant, "GET", instance_id)
    assert r.status_code == 200, r.text
    assert r.json() == {"rules": [DEFAULT], "total_count": 1}


BAD: list[tuple[str, str, Any, str, str]] = [
    # (case, method, body, argument_name, reason)
    ("not an address", "POST", {"rules": [{"ip": "nope", "description": "x"}]}, "rules.0.ip",
     "format"),
    ("ipv6", "POST", {"rules": [{"ip": "2001:db8::/32", "description": "x"}]}, "rules.0.ip",
     "format"),
    ("prefix too long", "PUT", {"rules": [{"ip": "1.2.3.4/33", "description": "x"}]},
     "rules.0.ip", "format"),
    ("network twice", "PUT",
     {"rules": [{"ip": "1.2.3.4", "description": "a"}, {"ip": "1.2.3.4/32", "description": "b"}]},
     "rules.1.ip", "constraint"),
    ("description too long", "POST",
     {"rules": [{"ip": "1.2.3.4", "description": "d" * 256}]}, "rules.0.description",
     "constraint"),
    ("description with a control character", "POST",
     {"rules": [{"ip": "1.2.3.4", "description": "a\x07b"}]}, "rules.0.description", "format"),
    ("too many rules", "PUT",
     {"rules": [{"ip": f"10.0.0.{i}", "description": ""} for i in range(101)]}, "rules",
     "constraint"),
    ("missing ip", "POST", {"rules": [{"description": "x"}]}, "rules.0.ip", "required"),
    ("rules not a list", "POST", {"rules": "1.2.3.4"}, "rules", "constraint"),
    ("bad ip to delete", "DELETE", {"acl_rule_ips": ["1.2.3.4", "bad"]}, "acl_rule_ips.1",
     "format"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "method", "body", "argument", "reason"), BAD,
                         ids=[b[0] for b in BAD])  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(
    api_url: str,
    tenant: Tenant,
    case: str,
    method: str,
    body: Any,
    argument: str,
    reason: str,
) -> None:
    instance_id = _row(tenant)
    before = _state(instance_id)
    r = _call(api_url, tenant, method, instance_id, body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["type"] == "invalid_arguments"
    details = {d["argument_name"]: d for d in error["details"]}
    assert argument in details, error
    assert details[argument]["reason"] == reason and details[argument]["help_message"]
    assert _state(instance_id) == before == ("ready", [(acl.DEFAULT_IP, "Allow All")], [])


def test_too_many_after_an_addition_is_refused(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    rules = [{"ip": f"10.0.0.{i}", "description": ""} for i in range(acl.MAX_RULES)]
    with session_scope() as session:  # already full, without going through a job
        row = session.get(Instance, instance_id)
        assert row is not None
        row.acl_rules = [AclRule(ip=f"{r['ip']}/32", description="x") for r in rules]
    before = _state(instance_id)
    r = _call(api_url, tenant, "POST", instance_id, {"rules": [{"ip": "10.9.0.0/16"}]})
    assert r.status_code == 400 and r.json()["details"][0]["argument_name"] == "rules"
    assert _state(instance_id) == before


def test_add_set_delete_record_the_rules_and_one_job_each(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    # Add: every rule in the answer, bare addresses as /32, host bits cleared.
    r = _call(api_url, tenant, "POST", instance_id,
              {"rules": [{"ip": "1.2.3.4", "description": "office"},
                         {"ip": "10.1.2.3/16", "description": ""}]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [(x["ip"], x["description"]) for x in r.json()["rules"]] == [
        ("0.0.0.0/0", "Allow All"),
        ("1.2.3.4/32", "office"),
        ("10.1.0.0/16", acl.EMPTY_DESCRIPTION),
    ]
    assert all(x["port"] == 40123 and x["action"] == "allow" for x in r.json()["rules"])
    status, _, ops = _state(instance_id)
    assert status in ("configuring", "ready") and ops == ["apply_acl"]  # a worker may be quick

    _set_status(instance_id, "ready")  # as the job leaves it (without a worker here)

    # Set replaces all, in the order given.
    r = _call(api_url, tenant, "PUT", instance_id,
              {"rules": [{"ip": "192.168.0.0/24", "description": "lan"},
                         {"ip": "1.2.3.4/32", "description": "office"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [x["ip"] for x in r.json()["rules"]] == ["192.168.0.0/24", "1.2.3.4/32"]
    assert _state(instance_id)[1:] == (
        [("192.168.0.0/24", "lan"), ("1.2.3.4/32", "office")],
        ["apply_acl", "apply_acl"],
    )
    _set_status(instance_id, "ready")

    # Delete answers the rules actually deleted; unknown networks are ignored.
    r = _call(api_url, tenant, "DELETE", instance_id,
              {"acl_rule_ips": ["1.2.3.4", "8.8.8.8/32"]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"rules": [{**DEFAULT, "ip": "1.2.3.4/32", "description": "office"}]}
    assert _state(instance_id)[1:] == ([("192.168.0.0/24", "lan")], ["apply_acl"] * 3)


def test_changes_that_admit_the_same_networks_need_no_job(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    r = _call(api_url, tenant, "DELETE", instance_id, {"acl_rule_ips": ["9.9.9.9"]})
    assert r.status_code == 200 and r.json() == {"rules": []}
    r = _call(api_url, tenant, "POST", instance_id,
              {"rules": [{"ip": "0.0.0.0/0", "description": "everyone"}]})  # fmt: skip
    assert r.status_code == 200 and r.json()["rules"][0]["description"] == "everyone"
    r = _call(api_url, tenant, "POST", instance_id, {"rules": []})
    assert r.status_code == 200 and len(r.json()["rules"]) == 1
    assert _state(instance_id) == ("ready", [("0.0.0.0/0", "everyone")], [])


def test_set_to_no_rule_is_accepted(api_url: str, tenant: Tenant) -> None:
    """No rule admits nobody (but the control plane): a decision users may take."""
    instance_id = _row(tenant)
    r = _call(api_url, tenant, "PUT", instance_id, {"rules": []})
    assert r.status_code == 200 and r.json() == {"rules": []}
    assert _state(instance_id)[1:] == ([], ["apply_acl"])


def test_pages(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.acl_rules.extend(AclRule(ip=f"10.0.0.{i}/32", description=str(i)) for i in range(4))
    page = _call(api_url, tenant, "GET", instance_id, page=2, page_size=2).json()
    assert page["total_count"] == 5
    assert [r["ip"] for r in page["rules"]] == ["10.0.0.1/32", "10.0.0.2/32"]
    past = _call(api_url, tenant, "GET", instance_id, page=9, page_size=2).json()
    assert past == {"rules": [], "total_count": 5}
    r = _call(api_url, tenant, "GET", instance_id, page_size=101)
    assert r.status_code == 400 and r.json()["details"][0]["argument_name"] == "page_size"


@pytest.mark.parametrize("status", ["configuring", "provisioning", "error"])
def test_a_change_needs_a_ready_instance(api_url: str, tenant: Tenant, status: str) -> None:
    instance_id = _row(tenant)
    _set_status(instance_id, status)
    for method, body in [("POST", {"rules": [{"ip": "1.2.3.4"}]}), ("PUT", {"rules": []}),
                         ("DELETE", {"acl_rule_ips": ["0.0.0.0/0"]})]:  # fmt: skip
        r = _call(api_url, tenant, method, instance_id, body)
        assert r.status_code == 409 and r.json()["type"] == "transient_state", r.text
        assert r.json()["current_state"] == status and r.json()["resource_id"] == instance_id
    assert _call(api_url, tenant, "GET", instance_id).json()["total_count"] == 1
    assert _state(instance_id) == (status, [(acl.DEFAULT_IP, "Allow All")], [])


def test_not_yours(api_url: str, tenant: Tenant) -> None:
    instance_id = _row(tenant)
    stranger = new_tenant("acls-stranger")
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = _call(api_url, stranger, method, instance_id, {"rules": [], "acl_rule_ips": []})
        assert r.status_code == 404, (method, r.text)
        assert r.json()["resource"] == "instance" and r.json()["resource_id"] == instance_id
    assert _state(instance_id) == ("ready", [(acl.DEFAULT_IP, "Allow All")], [])
