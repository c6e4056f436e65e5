"""The request bodies of the Terraform provider and the `scw` CLI (Go) and of the Python SDK,
replayed with plain HTTP against a real instance of each engine family, exactly as those
clients send them (scaleway-rdb-api.md sections 1, 5, 6 and 8); every answer is checked field by
field against the wire notes (tests/support/wire_shapes.py). The instance itself is made from
Terraform's recorded CreateInstance body (nulls and Go's defaults included).

What needs no container (catalog, lists, refusals, not_found bodies) is in
tests/service/test_client_bodies.py.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from tests.e2e.conftest import instance_resources
from tests.support import wire_shapes as shapes
from tests.support.replay import Clients, empty, json_of
from tests.support.tenants import Tenant

pytestmark = pytest.mark.docker

TF_USER, TF_PASSWORD = "test_user", "thiZ_is_v&ry_s3cret"  # from the recorded body
TRANSIENT = {
    "provisioning", "configuring", "deleting", "autohealing", "initializing", "backuping",
    "snapshotting", "restarting",
}  # fmt: skip


@dataclass(frozen=True)
class Family:
    engine: str
    setting: tuple[str, str]  # a hot setting Terraform sets, and the value
    default: str  # that setting's default


FAMILIES = {
    "postgresql": Family("PostgreSQL-15", ("work_mem", "8"), "4"),
    "mariadb": Family("MariaDB-10.11", ("max_connections", "200"), "100"),  # db-dev-s: <= 250
}


@dataclass
class TfInstance:
    id: str
    family: Family
    created: dict[str, Any]  # the answer to the create
    ready: dict[str, Any]  # the first ready GET


def wait_ready(clients: Clients, instance_id: str, timeout: float = 240) -> dict[str, Any]:
    """Polls as the Go waiters do (a GET until the status is no longer transient)."""
    deadline = time.monotonic() + timeout
    while True:
        instance: dict[str, Any] = json_of(clients.go("GET", f"/instances/{instance_id}"))
        if instance["status"] not in TRANSIENT:
            assert instance["status"] == "ready", instance
            shapes.check(instance, shapes.INSTANCE)
            return instance
        assert time.monotonic() < deadline, f"still {instance['status']}"
        time.sleep(0.5)


def wait_gone(clients: Clients, instance_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = clients.go("GET", f"/instances/{instance_id}")
        if response.status_code == 404:
            body: dict[str, Any] = json_of(response, 404)
            return body
        assert time.monotonic() < deadline, "never gone"
        time.sleep(0.5)


def terraform_create_body(tenant: Tenant, family: Family, name: str) -> dict[str, Any]:
    """Terraform's recorded CreateInstance body (section 5.1), on lssd and for this engine."""
    return {
        "project_id": tenant.project_id,
        "name": name,
        "engine": family.engine,
        "user_name": TF_USER,
        "password": TF_PASSWORD,
        "node_type": "db-dev-s",
        "is_ha_cluster": False,
        "high_availability_mode": "unknown_high_availability_mode",  # Go's default, always sent
        "disable_backup": True,
        "tags": ["terraform-test", "engine-upgrade"],
        "init_settings": None,
        "volume_type": "lssd",
        "volume_size": 0,
        "init_endpoints": None,
        "backup_same_region": False,
        "encryption": {"enabled": False},
    }


@pytest.fixture(scope="module")
def clients(api_url: str, tenant: Tenant, worker: object, monitor: object) -> Iterator[Clients]:
    both = Clients(api_url, tenant)
    yield both
    both.close()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def tf(
    request: pytest.FixtureRequest, clients: Clients, docker_client: docker.DockerClient
) -> Iterator[TfInstance]:
    family = FAMILIES[request.param]
    body = terraform_create_body(clients.tenant, family, f"tf-bodies-{request.param}")
    created = json_of(clients.go("POST", "/instances", body))
    try:
        yield TfInstance(created["id"], family, created, wait_ready(clients, created["id"]))
    finally:
        if clients.go("GET", f"/instances/{created['id']}").status_code != 404:
            wait_ready(clients, created["id"])  # a job may still run
            clients.go("DELETE", f"/instances/{created['id']}")
            wait_gone(clients, created["id"])
        assert instance_resources(docker_client, created["id"]) == {
            "containers": [],
            "networks": [],
            "volumes": [],
        }


def _lb(instance: dict[str, Any]) -> dict[str, Any]:
    (endpoint,) = [e for e in instance["endpoints"] if "load_balancer" in e]
    return endpoint


def test_terraform_create_body(tf: TfInstance, tenant: Tenant) -> None:
    created = tf.created
    shapes.check(created, shapes.INSTANCE)
    assert (created["status"], created["engine"], created["node_type"]) == (
        "provisioning",
        tf.family.engine,
        "db-dev-s",
    )
    assert created["project_id"] == tenant.project_id
    assert created["tags"] == ["terraform-test", "engine-upgrade"]
    assert created["init_settings"] == [] and created["is_ha_cluster"] is False
    assert created["volume"]["type"] == "lssd" and created["encryption"] == {"enabled": False}
    assert created["backup_schedule"]["disabled"] is True

    ready = tf.ready
    assert ready["endpoint"] == _lb(ready)  # `init_endpoints: null` -> one load balancer
    assert ready["settings"], "a ready instance lists its settings"


def test_scw_instance_get_reads_the_acls(tf: TfInstance, clients: Clients) -> None:
    """`scw rdb instance get` reads the instance, then its ACL rules."""
    shapes.check(json_of(clients.go("GET", f"/instances/{tf.id}")), shapes.INSTANCE)
    rules = json_of(clients.go("GET", f"/instances/{tf.id}/acls", page=1))
    shapes.check(rules, shapes.page_of("rules", shapes.ACL_RULE))
    assert rules["total_count"] == 1
    (rule,) = rules["rules"]
    assert (rule["ip"], rule["description"], rule["port"]) == (
        "0.0.0.0/0",
        "Allow All",
        _lb(tf.ready)["port"],
    )


def test_terraform_settings_then_python_delete(tf: TfInstance, clients: Clients) -> None:
    """Terraform PUTs `settings` right after the create; the answer is the set it sent."""
    name, value = tf.family.setting
    put = json_of(
        clients.go(
            "PUT", f"/instances/{tf.id}/settings", {"settings": [{"name": name, "value": value}]}
        )
    )
    shapes.check(put, shapes.Obj({"settings": shapes.ListOf(shapes.SETTING)}))
    # The whole set: the setting as sent, every other one as a new instance shows it.
    defaults = {s["name"]: s["value"] for s in tf.ready["settings"]}
    answered = {s["name"]: s["value"] for s in put["settings"]}
    assert answered == {**defaults, name: value}
    settings = {s["name"]: s["value"] for s in wait_ready(clients, tf.id)["settings"]}
    assert settings == answered

    refused = json_of(
        clients.go(
            "POST", f"/instances/{tf.id}/settings", {"settings": [{"name": "nope", "value": "1"}]}
        ),
        400,
    )
    shapes.check(refused, shapes.INVALID_ARGUMENTS)

    deleted = json_of(
        clients.python("DELETE", f"/instances/{tf.id}/settings", {"setting_names": [name]})
    )
    shapes.check(deleted, shapes.Obj({"settings": shapes.ListOf(shapes.SETTING)}))
    settings = {s["name"]: s["value"] for s in wait_ready(clients, tf.id)["settings"]}
    assert settings.get(name, tf.family.default) == tf.family.default


def test_terraform_database_user_privilege(tf: TfInstance, clients: Clients) -> None:
    base = f"/instances/{tf.id}"
    database = json_of(clients.go("POST", f"{base}/databases", {"name": "tf_db"}))
    shapes.check(database, shapes.DATABASE)
    assert (database["name"], database["managed"]) == ("tf_db", True)
    # Terraform reads one back by listing with name= and taking element 0.
    found = json_of(
        clients.go(
            "GET",
            f"{base}/databases",
            name="tf_db",
            order_by="name_asc",
            skip_size_retrieval="false",
            page=1,
        )
    )
    shapes.check(found, shapes.page_of("databases", shapes.DATABASE))
    assert [d["name"] for d in found["databases"]] == ["tf_db"] and found["total_count"] == 1

    user = json_of(
        clients.go(
            "POST", f"{base}/users", {"name": "tf_user", "password": TF_PASSWORD, "is_admin": False}
        )
    )
    assert user == {"name": "tf_user", "is_admin": False}
    # `scw rdb user list`: an empty name filter means every user.
    listed = json_of(clients.go("GET", f"{base}/users", name="", order_by="name_asc", page=1))
    shapes.check(listed, shapes.page_of("users", shapes.USER))
    assert listed == {
        "users": [{"name": TF_USER, "is_admin": True}, {"name": "tf_user", "is_admin": False}],
        "total_count": 2,
    }
    one = json_of(clients.go("GET", f"{base}/users", name="tf_user", order_by="name_asc"))
    assert one == {"users": [{"name": "tf_user", "is_admin": False}], "total_count": 1}

    privilege = {"database_name": "tf_db", "user_name": "tf_user", "permission": "all"}
    assert json_of(clients.go("PUT", f"{base}/privileges", privilege)) == privilege
    read = json_of(
        clients.go(
            "GET",
            f"{base}/privileges",
            database_name="tf_db",
            user_name="tf_user",
            order_by="user_name_asc",
            page=1,
        )
    )
    shapes.check(read, shapes.page_of("privileges", shapes.PRIVILEGE))
    assert read == {"privileges": [privilege], "total_count": 1}
    # The Python SDK leaves permission out: readonly is the default.
    readonly = json_of(
        clients.python(
            "PUT", f"{base}/privileges", {"database_name": "tf_db", "user_name": "tf_user"}
        )
    )
    assert readonly["permission"] == "readonly"

    updated = json_of(
        clients.go(
            "PATCH", f"{base}/users/tf_user", {"password": "N3w_pass!word", "is_admin": False}
        )
    )
    assert updated == {"name": "tf_user", "is_admin": False}
    # Terraform's delete of a privilege is a SetPrivilege to none.
    none = json_of(clients.go("PUT", f"{base}/privileges", {**privilege, "permission": "none"}))
    assert none["permission"] == "none"
    empty(clients.go("DELETE", f"{base}/users/tf_user"))
    empty(clients.go("DELETE", f"{base}/databases/tf_db"))
    missing = json_of(clients.go("DELETE", f"{base}/users/tf_user"), 404)
    shapes.check(missing, shapes.NOT_FOUND)


def test_terraform_acl_then_python_add_and_delete(tf: TfInstance, clients: Clients) -> None:
    base = f"/instances/{tf.id}/acls"
    port = _lb(tf.ready)["port"]
    rules = [
        {"ip": "0.0.0.0/0", "description": "Allow All"},  # keeps the endpoint open to the tests
        {"ip": "1.2.3.4/32", "description": "tf"},
    ]
    put = json_of(clients.go("PUT", base, {"rules": rules}))
    shapes.check(put, shapes.Obj({"rules": shapes.ListOf(shapes.ACL_RULE)}))
    assert [(r["ip"], r["description"], r["port"]) for r in put["rules"]] == [
        ("0.0.0.0/0", "Allow All", port),
        ("1.2.3.4/32", "tf", port),
    ]
    wait_ready(clients, tf.id)

    # Python passes a bare address through; the rule comes back as a /32.
    added = json_of(
        clients.python("POST", base, {"rules": [{"ip": "5.6.7.8", "description": "py"}]})
    )
    assert [r["ip"] for r in added["rules"]] == ["0.0.0.0/0", "1.2.3.4/32", "5.6.7.8/32"]
    wait_ready(clients, tf.id)

    # A DELETE body without Content-Type; an address that was never there is no error.
    deleted = json_of(
        clients.python("DELETE", base, {"acl_rule_ips": ["1.2.3.4/32", "5.6.7.8/32", "9.9.9.9/32"]})
    )
    assert [r["ip"] for r in deleted["rules"]] == ["1.2.3.4/32", "5.6.7.8/32"]
    wait_ready(clients, tf.id)
    after = json_of(clients.go("GET", base, page=1))
    assert [r["ip"] for r in after["rules"]] == ["0.0.0.0/0"] and after["total_count"] == 1

    refused = json_of(
        clients.go("POST", base, {"rules": [{"ip": "not-an-ip", "description": ""}]}), 400
    )
    shapes.check(refused, shapes.INVALID_ARGUMENTS)


def test_certificate_as_json_and_as_a_file(tf: TfInstance, clients: Clients) -> None:
    """Python and Go read the JSON ScwFile; the JS SDK asks for the file itself (`?dl=1`)."""
    wrapped = json_of(clients.go("GET", f"/instances/{tf.id}/certificate"))
    shapes.check(wrapped, shapes.SCW_FILE)
    assert (wrapped["name"], wrapped["content_type"]) == (
        "ssl_certificate",
        "application/x-pem-file",
    )
    pem = base64.b64decode(wrapped["content"])
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")

    raw = clients.go("GET", f"/instances/{tf.id}/certificate", dl=1)
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"] == "application/x-pem-file"
    assert "filename=" in raw.headers.get("content-disposition", ""), raw.headers
    assert raw.content == pem


def test_endpoint_read_back(tf: TfInstance, clients: Clients) -> None:
    lb = _lb(wait_ready(clients, tf.id))
    endpoint = json_of(clients.go("GET", f"/endpoints/{lb['id']}"))
    shapes.check(endpoint, shapes.ENDPOINT)
    assert endpoint == lb


def test_delete_as_every_client_sees_it(tf: TfInstance, clients: Clients) -> None:
    """DELETE answers the instance, `deleting`; then GET answers not_found, naming it."""
    deleting = json_of(clients.go("DELETE", f"/instances/{tf.id}"))
    shapes.check(deleting, shapes.INSTANCE)
    assert deleting["status"] == "deleting"
    gone = wait_gone(clients, tf.id)
    shapes.check(gone, shapes.NOT_FOUND)
    assert (gone["resource"], gone["resource_id"]) == ("instance", tf.id)
