"""Pure pieces of databases, users and privileges: names, what grants amount to, listing."""

from __future__ import annotations

import pytest

from controlplane.domain import engine_objects as objects
from controlplane.domain.errors import InvalidArguments, NotFound, PreconditionFailed
from controlplane.domain.privileges import (
    Permission,
    PgGrants,
    classify_mysql,
    classify_postgres,
    table_level,
)
from controlplane.services.engine_objects import refusal_error

ALL_TABLE = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
CONNECT, ALL_DB = frozenset({"CONNECT"}), frozenset({"CONNECT", "CREATE", "TEMPORARY"})
USAGE, ALL_SCHEMA = frozenset({"USAGE"}), frozenset({"USAGE", "CREATE"})
READONLY, READWRITE = frozenset({"SELECT"}), frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})

# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["app", "App-1", "a$b", "x" * 63])
def test_user_names_accepted_on_postgresql(name: str) -> None:
    assert objects.user_name_errors(name, "postgresql") == []


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("_rdb_superadmin", "postgresql"),
        ("_RDB_replicator", "mysql"),
        ("pg_monitor", "postgresql"),
        ("public", "postgresql"),
        ("root", "mysql"),
        ("mysql", "mysql"),
        ("1abc", "postgresql"),
        ("a b", "mysql"),
        ("x" * 33, "mysql"),
        ("", "postgresql"),
        ("admin\n", "postgresql"),
    ],
)
def test_reserved_or_malformed_user_names_are_refused(name: str, family: str) -> None:
    assert objects.user_name_errors(name, family)


@pytest.mark.parametrize("name", ["rdb", "custom-db", "test_db", "tfdb_list_2078923807392667811"])
def test_observed_database_names_are_accepted(name: str) -> None:
    for family in ("postgresql", "mysql"):
        assert objects.database_name_errors(name, family) == []


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("postgres", "postgresql"),
        ("template1", "postgresql"),
        ("mysql", "mysql"),
        ("information_schema", "mysql"),
        ("_rdb", "mysql"),
        ("_RDB_x", "postgresql"),
        ("-x", "postgresql"),
        ("a`b", "mysql"),
        ('a"b', "postgresql"),
        ("x" * 64, "postgresql"),
        ("", "mysql"),
    ],
)
def test_reserved_or_malformed_database_names_are_refused(name: str, family: str) -> None:
    assert objects.database_name_errors(name, family)


def test_internal_objects_are_recognised() -> None:
    assert objects.is_internal_user("_rdb_superadmin", "mysql")
    assert objects.is_internal_user("pg_read_all_data", "postgresql")
    assert not objects.is_internal_user("pg_app", "mysql")  # only PostgreSQL reserves pg_
    assert objects.is_internal_database("postgres", "postgresql")
    assert not objects.is_internal_database("postgres", "mysql")
    assert not objects.is_internal_database("rdb", "postgresql")


# --- PostgreSQL privileges ------------------------------------------------------------------


def test_table_levels() -> None:
    assert table_level([]) == Permission.NONE
    assert table_level(["SELECT"]) == Permission.READONLY
    assert table_level(READWRITE) == Permission.READWRITE
    assert table_level(ALL_TABLE) == Permission.ALL
    assert table_level(ALL_TABLE | {"MAINTAIN"}) == Permission.ALL  # PostgreSQL 17
    assert table_level(["SELECT", "INSERT"]) == Permission.CUSTOM


def test_what_set_privilege_grants_reads_back_as_the_same_permission() -> None:
    # no table yet: the owner's default privileges record the level
    assert classify_postgres(PgGrants(CONNECT, USAGE, defaults=(READONLY,))) == "readonly"
    assert classify_postgres(PgGrants(CONNECT, USAGE, defaults=(READWRITE,))) == "readwrite"
    assert (
        classify_postgres(PgGrants(ALL_DB, ALL_SCHEMA, defaults=(frozenset(ALL_TABLE),))) == "all"
    )
    # tables made later by two creators, all granted
    grants = PgGrants(
        CONNECT,
        USAGE,
        other_tables=3,
        tables={"SELECT": 3, "INSERT": 3, "UPDATE": 3, "DELETE": 3},
        defaults=(READWRITE, READWRITE),
    )
    assert classify_postgres(grants) == "readwrite"


def test_nothing_granted_is_none_whatever_public_holds() -> None:
    assert classify_postgres(PgGrants(other_tables=4)) == Permission.NONE


def test_the_initial_admin_is_all_on_rdb() -> None:
    """GRANT ALL ON DATABASE and ON SCHEMA public, tables of its own only."""
    assert classify_postgres(PgGrants(ALL_DB, ALL_SCHEMA, other_tables=0)) == Permission.ALL


def test_an_owner_holds_all() -> None:
    grants = PgGrants(ALL_DB, ALL_SCHEMA, other_tables=1, tables=dict.fromkeys(ALL_TABLE, 1))
    assert classify_postgres(grants) == Permission.ALL


@pytest.mark.parametrize(
    "grants",
    [
        # some tables readable, others not
        PgGrants(CONNECT, USAGE, other_tables=2, tables={"SELECT": 1}, defaults=(READONLY,)),
        # reads what exists, writes what comes
        PgGrants(CONNECT, USAGE, other_tables=1, tables={"SELECT": 1}, defaults=(READWRITE,)),
        # a table grant without CONNECT
        PgGrants(frozenset(), USAGE, other_tables=1, tables={"SELECT": 1}),
        # CREATE on the schema with read-only tables
        PgGrants(CONNECT, ALL_SCHEMA, defaults=(READONLY,)),
        # CONNECT alone: nothing tells a level
        PgGrants(CONNECT),
    ],
)
def test_anything_else_is_custom(grants: PgGrants) -> None:
    assert classify_postgres(grants) == Permission.CUSTOM


# --- MariaDB privileges ---------------------------------------------------------------------

MARIADB_ALL = [
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW", "SHOW VIEW",
    "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "TRIGGER", "DELETE HISTORY",
]  # fmt: skip


def test_mysql_levels() -> None:
    assert classify_mysql([]) == Permission.NONE
    assert classify_mysql(["SELECT"]) == Permission.READONLY
    assert classify_mysql(["SELECT", "INSERT", "UPDATE", "DELETE"]) == Permission.READWRITE
    assert classify_mysql(MARIADB_ALL) == Permission.ALL
    assert classify_mysql([*MARIADB_ALL, "GRANT OPTION"]) == Permission.ALL
    assert classify_mysql(["SELECT", "INSERT"]) == Permission.CUSTOM
    assert classify_mysql(["SELECT"], table_grants=True) == Permission.CUSTOM
    assert classify_mysql([], table_grants=True) == Permission.CUSTOM


# --- listing --------------------------------------------------------------------------------

USERS = [
    {"name": "zed", "is_admin": False},
    {"name": "admin", "is_admin": True},
    {"name": "bob", "is_admin": False},
    {"name": "bobby", "is_admin": True},
]


def test_name_filter_is_an_exact_match() -> None:
    page = objects.select_page(USERS, {"name": "bob"}, "name_asc", objects.USER_ORDERS, 1, None)
    assert page.items == [{"name": "bob", "is_admin": False}] and page.total_count == 1


def test_empty_filters_mean_no_filter_and_pages_are_exact() -> None:
    orders = objects.USER_ORDERS
    first = objects.select_page(USERS, {"name": None}, "name_asc", orders, 1, 3)
    assert [u["name"] for u in first.items] == ["admin", "bob", "bobby"]
    assert first.total_count == 4
    last = objects.select_page(USERS, {}, "name_asc", orders, 2, 3)
    assert [u["name"] for u in last.items] == ["zed"]
    past = objects.select_page(USERS, {}, "name_asc", orders, 3, 3)
    assert past.items == [] and past.total_count == 4


def test_orders() -> None:
    orders = objects.USER_ORDERS

    def names(order: str) -> list[str]:
        page = objects.select_page(USERS, {}, order, orders, 1, None)
        return [u["name"] for u in page.items]

    assert names("name_desc") == ["zed", "bobby", "bob", "admin"]
    assert names("is_admin_asc") == ["bob", "zed", "admin", "bobby"]
    assert names("is_admin_desc")[:2] == ["bobby", "admin"]
    assert objects.order_errors("created_at_asc", orders)
    assert objects.page_errors(0, None) and objects.page_errors(1, 101)


def test_database_filters() -> None:
    rows = [
        {"name": "rdb", "owner": "_rdb_superadmin", "managed": True, "size": 10},
        {"name": "mine", "owner": "app", "managed": False, "size": 30},
    ]
    orders = objects.DATABASE_ORDERS
    unmanaged = objects.select_page(rows, {"managed": False}, "name_asc", orders, 1, None)
    assert [r["name"] for r in unmanaged.items] == ["mine"]
    owned = objects.select_page(rows, {"owner": "_rdb_superadmin"}, "size_desc", orders, 1, None)
    assert [r["name"] for r in owned.items] == ["rdb"]
    by_size = objects.select_page(rows, {}, "size_desc", orders, 1, None)
    assert [r["name"] for r in by_size.items] == ["mine", "rdb"]


# --- refusals -------------------------------------------------------------------------------


def test_refusals_map_to_scaleway_errors() -> None:
    def refused(kind: objects.Refusal, resource: str = "user") -> dict[str, object]:
        return objects.ObjectRefused(kind, resource, "app", "because").as_result()["refused"]

    missing = refusal_error(refused(objects.Refusal.NOT_FOUND))
    assert isinstance(missing, NotFound)
    assert missing.body() == {
        "type": "not_found",
        "message": "resource is not found",
        "resource": "user",
        "resource_id": "app",
    }
    assert isinstance(refusal_error(refused(objects.Refusal.EXISTS)), InvalidArguments)
    in_use = refusal_error(refused(objects.Refusal.IN_USE, "database"))
    assert isinstance(in_use, PreconditionFailed)
    assert in_use.body()["precondition"] == "resource_still_in_use"
