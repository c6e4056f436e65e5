"""A 404 for a path no route serves names a resource and an id (never the empty pair clients
render as "resource '' with ID ''")."""

from __future__ import annotations

import pytest

from controlplane.api.not_found import resource_of

BASE = "/rdb/v1/regions/fr-par"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"{BASE}/instances/i-1/acls", ("instance_acl", "i-1")),
        (f"{BASE}/instances/i-1/users/bob", ("user", "bob")),
        (f"{BASE}/instances/i-1/databases", ("database", "i-1")),
        (f"{BASE}/snapshots/s-1", ("instance_snapshot", "s-1")),
        (f"{BASE}/read-replicas/r-1/nothing", ("nothing", "r-1")),
        (f"{BASE}/backups", ("database_backup", f"{BASE}/backups")),
        ("/nowhere", ("route", "/nowhere")),
        ("/", ("route", "/")),
    ],
)
def test_resource_and_id_are_derived_from_the_path(path: str, expected: tuple[str, str]) -> None:
    assert resource_of(path) == expected


def test_a_long_path_is_capped() -> None:
    resource, resource_id = resource_of(f"{BASE}/instances/{'x' * 1000}")
    assert resource == "instance" and len(resource_id) == 200
