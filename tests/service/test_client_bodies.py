"""What the `scw` CLI and the Terraform provider (Go) and the Python SDK send, replayed with plain
HTTP exactly as they send it (scaleway-rdb-api.md sections 1, 5 and 8), and the answers checked
field by field against the wire notes. Only what needs no container is here: catalog queries,
lists, reads and updates of a row-only instance, refusals, and the not_found bodies every client
renders ("resource '' with ID ''" when they lack `resource`/`resource_id`). The bodies that need
a running engine are replayed in tests/e2e/test_client_bodies.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import wire_shapes as shapes
from tests.support.replay import Clients, json_of
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

UNKNOWN = "00000000-0000-4000-8000-00000000beef"


@pytest.fixture(scope="module")
def tenant_row(migrated_db: str) -> tuple[Tenant, str]:
    tenant = new_tenant("client-bodies")
    return tenant, instance_row(tenant, name="tf-row")


@pytest.fixture(scope="module")
def clients(api_url: str, tenant_row: tuple[Tenant, str]) -> Iterator[Clients]:
    both = Clients(api_url, tenant_row[0])
    yield both
    both.close()


def test_catalog_as_go_and_python_ask_for_it(clients: Clients) -> None:
    # Go always sends include_disabled_types (false) and page; Python sends the bool as False.
    for response in (
        clients.go("GET", "/node-types", include_disabled_types="false", page=1),
        clients.python("GET", "/node-types", include_disabled_types=False),
    ):
        page = json_of(response)
        shapes.check(page, shapes.page_of("node_types", shapes.NODE_TYPE))
        assert page["total_count"] == len(page["node_types"]) >= 2
        names = [n["name"] for n in page["node_types"]]
        assert "db-dev-s" in names and names == [n.lower() for n in names]

    engines = json_of(clients.go("GET", "/database-engines", page=1))
    shapes.check(engines, shapes.page_of("engines", shapes.DATABASE_ENGINE))
    for engine in engines["engines"]:
        majors = [float(v["version"]) for v in engine["versions"]]
        assert majors == sorted(majors, reverse=True), "versions[0] must be the newest (Go, CLI)"
    filtered = json_of(clients.go("GET", "/database-engines", name="PostgreSQL", version="15"))
    assert [e["name"] for e in filtered["engines"]] == ["PostgreSQL"]
    assert [v["name"] for v in filtered["engines"][0]["versions"]] == ["PostgreSQL-15"]


def test_instance_list_and_get_as_the_cli_sends_them(
    clients: Clients, tenant_row: tuple[Tenant, str]
) -> None:
    tenant, instance_id = tenant_row
    # `scw rdb instance list`: order_by always, an empty name, the project.
    page = json_of(
        clients.go(
            "GET",
            "/instances",
            order_by="created_at_asc",
            name="",
            page=1,
            project_id=tenant.project_id,
        )
    )
    shapes.check(page, shapes.page_of("instances", shapes.INSTANCE))
    assert [i["id"] for i in page["instances"]] == [instance_id] and page["total_count"] == 1
    # Python: a body on GET, booleans spelled True/False.
    python_page = json_of(clients.python("GET", "/instances", has_maintenances=False))
    assert [i["id"] for i in python_page["instances"]] == [instance_id]
    past_the_end = json_of(clients.go("GET", "/instances", page=5, page_size=10))
    assert past_the_end == {"instances": [], "total_count": 1}

    instance = json_of(clients.go("GET", f"/instances/{instance_id}"))
    shapes.check(instance, shapes.INSTANCE)
    assert (instance["status"], instance["organization_id"], instance["project_id"]) == (
        "ready",
        tenant.organization_id,
        tenant.project_id,
    )
    assert instance["is_ha_cluster"] is False
    assert instance["high_availability_mode"] in ("unknown_high_availability_mode", "disabled")


def test_update_instance_bodies(clients: Clients, tenant_row: tuple[Tenant, str]) -> None:
    _, instance_id = tenant_row
    # Go sends only what is set.
    renamed = json_of(
        clients.go("PATCH", f"/instances/{instance_id}", {"name": "tf-renamed", "tags": ["tf"]})
    )
    shapes.check(renamed, shapes.INSTANCE)
    assert (renamed["name"], renamed["tags"], renamed["status"]) == ("tf-renamed", ["tf"], "ready")
    # The Python SDK's full UpdateInstance body (section 5.3).
    body = {
        "backup_schedule_frequency": 12,
        "backup_schedule_retention": 3,
        "is_backup_schedule_disabled": False,
        "name": "renamed",
        "tags": ["x"],
        "logs_policy": {"max_age_retention": 7, "total_disk_retention": 1000000},
        "backup_same_region": True,
        "backup_schedule_start_hour": 4,
    }
    updated = json_of(clients.python("PATCH", f"/instances/{instance_id}", body))
    shapes.check(updated, shapes.INSTANCE)
    assert (updated["name"], updated["tags"], updated["backup_same_region"]) == (
        "renamed",
        ["x"],
        True,
    )
    schedule = updated["backup_schedule"]
    assert (schedule["frequency"], schedule["retention"], schedule["disabled"]) == (12, 3, False)
    assert updated["logs_policy"] == {"max_age_retention": 7, "total_disk_retention": 1000000}
    refused = json_of(
        clients.go("PATCH", f"/instances/{instance_id}", {"backup_schedule_start_hour": 24}), 400
    )
    shapes.check(refused, shapes.INVALID_ARGUMENTS)
    assert refused["details"][0]["argument_name"] == "backup_schedule_start_hour"


@pytest.mark.parametrize(
    "body",
    [
        {"node_type": "db-dev-m", "volume_size": 20000000000},  # Go sends every pointer set
        {},  # Python with no target
        {"enable_ha": False},  # only true is allowed
    ],
    ids=["two targets", "no target", "enable_ha false"],
)
def test_upgrade_bodies_that_are_refused_change_nothing(
    clients: Clients, tenant_row: tuple[Tenant, str], body: dict[str, object]
) -> None:
    _, instance_id = tenant_row
    shapes.check(
        json_of(clients.go("POST", f"/instances/{instance_id}/upgrade", body), 400),
        shapes.INVALID_ARGUMENTS,
    )
    instance = json_of(clients.go("GET", f"/instances/{instance_id}"))
    assert (instance["status"], instance["node_type"]) == ("ready", "db-dev-s")


def test_go_create_body_with_both_address_modes_is_refused(clients: Clients) -> None:
    """Go sends whatever is set: a private network spec with service_ip and ipam_config."""
    body = {
        "project_id": clients.tenant.project_id,
        "name": "tf-both-modes",
        "engine": "PostgreSQL-15",
        "user_name": "test_user",
        "password": "thiZ_is_v&ry_s3cret",
        "node_type": "db-dev-s",
        "is_ha_cluster": False,
        "high_availability_mode": "unknown_high_availability_mode",
        "disable_backup": True,
        "tags": None,
        "init_settings": None,
        "volume_type": "lssd",
        "volume_size": 0,
        "init_endpoints": [
            {
                "private_network": {
                    "private_network_id": UNKNOWN,
                    "service_ip": "10.0.0.5/24",
                    "ipam_config": {},
                }
            }
        ],
        "backup_same_region": False,
        "encryption": {"enabled": False},
    }
    refused = json_of(clients.go("POST", "/instances", body), 400)
    shapes.check(refused, shapes.INVALID_ARGUMENTS)
    names = json_of(clients.go("GET", "/instances", name="tf-both-modes"))
    assert names["total_count"] == 0


UNKNOWN_PATHS = [
    # (path the CLI or Terraform reads, resource named in the not_found body)
    (f"/instances/{UNKNOWN}", "instance"),
    (f"/instances/{UNKNOWN}/acls", "instance"),  # `scw rdb instance get` reads it too
    (f"/instances/{UNKNOWN}/users", "instance"),
    (f"/instances/{UNKNOWN}/databases", "instance"),
    (f"/instances/{UNKNOWN}/privileges", "instance"),
    (f"/instances/{UNKNOWN}/certificate", "instance"),
    (f"/instances/{UNKNOWN}/logs", "instance"),
    (f"/read-replicas/{UNKNOWN}", "read_replica"),
    (f"/endpoints/{UNKNOWN}", "endpoint"),
]


@pytest.mark.parametrize("path,resource", UNKNOWN_PATHS, ids=[p for p, _ in UNKNOWN_PATHS])
def test_unknown_resources_are_named_in_not_found(
    clients: Clients, path: str, resource: str
) -> None:
    body = json_of(clients.go("GET", path), 404)
    shapes.check(body, shapes.NOT_FOUND)
    assert (body["resource"], body["resource_id"]) == (resource, UNKNOWN), body


def test_deletes_with_a_body_and_no_content_type_are_read(clients: Clients) -> None:
    """Python sends the DELETE bodies of /acls and /settings without a Content-Type."""
    for path, body in (
        (f"/instances/{UNKNOWN}/acls", {"acl_rule_ips": ["1.2.3.4/32"]}),
        (f"/instances/{UNKNOWN}/settings", {"setting_names": ["work_mem"]}),
    ):
        answer = json_of(clients.python("DELETE", path, body), 404)
        shapes.check(answer, shapes.NOT_FOUND)
        assert answer["resource_id"] == UNKNOWN


def test_a_route_that_does_not_exist_still_names_something(clients: Clients) -> None:
    body = json_of(clients.go("GET", f"/instances/{UNKNOWN}/nothing-here"), 404)
    shapes.check(body, shapes.NOT_FOUND)
    assert body["resource"] and body["resource_id"], body
