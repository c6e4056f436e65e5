"""The table of RDB v1 operations the client tests and the README are built from: complete, named
as the official SDKs name them, and the only thing our API routes under the RDB prefix."""

from __future__ import annotations

from scaleway.rdb.v1 import RdbV1API

from tests.support import rdb_operations
from tests.support.rdb_operations import OPERATIONS, PREFIX

# Routes of ours under the RDB prefix that are no RDB operation (documented extensions).
EXTENSIONS = {
    ("GET", "/rdb/v1/regions/{}/instances/{}/operations"),
    ("POST", "/rdb/v1/regions/{}/instances/{}/restore-to-time"),  # point-in-time recovery
}


def test_the_table_has_the_58_operations_once() -> None:
    assert len(OPERATIONS) == 58
    assert len({op.operation_id for op in OPERATIONS}) == 58
    assert len({(op.method, op.path) for op in OPERATIONS}) == 58


def test_sdk_names_are_the_official_ones() -> None:
    missing = [op.python for op in OPERATIONS if not callable(getattr(RdbV1API, op.python, None))]
    assert not missing
    acl = rdb_operations.BY_ID["ListInstanceACLRules"]
    assert (acl.python, acl.js) == ("list_instance_acl_rules", "listInstanceACLRules")


def test_every_rdb_route_is_an_operation_of_the_contract() -> None:
    """A route under the prefix that matches no operation is a typo no client would ever call."""
    contract = {(op.method, rdb_operations.path_shape(PREFIX + op.path)) for op in OPERATIONS}
    ours = {r for r in rdb_operations.routed() if r[1].startswith("/rdb/v1/regions/{}/")}
    assert ours - contract - EXTENSIONS == set()


def test_the_markdown_table_lists_each_operation() -> None:
    table = rdb_operations.markdown_table(frozenset({"GetInstance"}))
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]  # not the header
    assert len(rows) == 58
    assert (
        "| instances | GET | `/instances/{instance_id}` | `get_instance` | `getInstance` | yes |"
        in (rows)
    )
    assert "1 of 58 operations are implemented." in table
