"""What each API permission means on each engine, and which one observed grants amount to.

Pure: the agents gather grants from the engine and ask here which permission they are. A
permission is set as a whole (everything the user held on the database is revoked first, then
the permission's grants are made), so reading back what was set always gives the same name;
grants a user made with SQL that match none of the four give ``custom``.

PostgreSQL (the database, its schema ``public``, the tables, views and sequences in it, and the
default privileges for what is created there later):

- ``readonly``: CONNECT; USAGE on public; SELECT on tables; SELECT on sequences.
- ``readwrite``: CONNECT; USAGE on public; SELECT, INSERT, UPDATE, DELETE on tables; USAGE,
  SELECT, UPDATE on sequences.
- ``all``: ALL on the database (CONNECT, CREATE, TEMPORARY); ALL on public (USAGE, CREATE);
  ALL on tables and sequences.
- ``none``: nothing (and the database is private: PUBLIC's CONNECT is revoked).

MariaDB / MySQL (on ``db``.*): ``readonly`` SELECT; ``readwrite`` SELECT, INSERT, UPDATE,
DELETE; ``all`` ALL PRIVILEGES (with GRANT OPTION for admin users, as the initial admin has on
``rdb``); ``none`` nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    READONLY = "readonly"
    READWRITE = "readwrite"
    ALL = "all"
    CUSTOM = "custom"
    NONE = "none"


SETTABLE = (Permission.READONLY, Permission.READWRITE, Permission.ALL, Permission.NONE)

# --- PostgreSQL -----------------------------------------------------------------------------

PG_DATABASE = {
    Permission.READONLY: ("CONNECT",),
    Permission.READWRITE: ("CONNECT",),
    Permission.ALL: ("ALL",),
}
PG_SCHEMA = {
    Permission.READONLY: ("USAGE",),
    Permission.READWRITE: ("USAGE",),
    Permission.ALL: ("ALL",),
}
PG_TABLES = {
    Permission.READONLY: ("SELECT",),
    Permission.READWRITE: ("SELECT", "INSERT", "UPDATE", "DELETE"),
    Permission.ALL: ("ALL",),
}
PG_SEQUENCES = {
    Permission.READONLY: ("SELECT",),
    Permission.READWRITE: ("USAGE", "SELECT", "UPDATE"),
    Permission.ALL: ("ALL",),
}
# What ALL on a table is (PostgreSQL 17 adds MAINTAIN: a superset still counts as all).
_PG_ALL_TABLE = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
)


def table_level(privileges: Iterable[str]) -> Permission:
    """The permission one set of table privileges (as ``aclexplode`` names them) amounts to."""
    held = frozenset(privileges)
    if not held:
        return Permission.NONE
    if held >= _PG_ALL_TABLE:
        return Permission.ALL
    if held == frozenset(PG_TABLES[Permission.READWRITE]):
        return Permission.READWRITE
    if held == frozenset(PG_TABLES[Permission.READONLY]):
        return Permission.READONLY
    return Permission.CUSTOM


@dataclass(frozen=True)
class PgGrants:
    """One role's grants on one database, as the engine shows them.

    ``database`` and ``schema`` hold the privileges granted to the role itself (``CONNECT``,
    ``CREATE``, ``TEMPORARY`` / ``USAGE``, ``CREATE``), ownership counting as all of them; what
    PUBLIC holds does not count. ``tables`` maps each privilege to the number of tables of
    schema public, among the ``other_tables`` the role does not own, on which it holds it.
    ``defaults`` are the default privileges on tables other roles grant it (one set each).
    """

    database: frozenset[str] = frozenset()
    schema: frozenset[str] = frozenset()
    other_tables: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    defaults: tuple[frozenset[str], ...] = ()


def classify_postgres(grants: PgGrants) -> Permission:
    held_on_tables = {p for p, n in grants.tables.items() if n > 0}
    if not (grants.database or grants.schema or held_on_tables or any(grants.defaults)):
        return Permission.NONE
    if any(0 < n < grants.other_tables for n in grants.tables.values()):
        return Permission.CUSTOM  # some tables granted, others not
    levels = {table_level(d) for d in grants.defaults}
    if grants.other_tables:
        levels.add(table_level(held_on_tables))
    creates = "CREATE" in grants.database, "CREATE" in grants.schema
    if "CONNECT" not in grants.database or "USAGE" not in grants.schema:
        return Permission.CUSTOM
    if all(creates) and levels <= {Permission.ALL}:
        return Permission.ALL
    if any(creates) or len(levels) != 1:
        return Permission.CUSTOM
    (level,) = levels
    return level if level in (Permission.READONLY, Permission.READWRITE) else Permission.CUSTOM


# --- MariaDB / MySQL ------------------------------------------------------------------------

MYSQL_GRANTS = {
    Permission.READONLY: ("SELECT",),
    Permission.READWRITE: ("SELECT", "INSERT", "UPDATE", "DELETE"),
    Permission.ALL: ("ALL PRIVILEGES",),
}
# The database-level privileges ALL PRIVILEGES always includes (versions add more).
_MYSQL_ALL = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "CREATE",
        "DROP",
        "REFERENCES",
        "INDEX",
        "ALTER",
        "CREATE TEMPORARY TABLES",
        "LOCK TABLES",
        "EXECUTE",
        "CREATE VIEW",
        "SHOW VIEW",
        "CREATE ROUTINE",
        "ALTER ROUTINE",
        "EVENT",
        "TRIGGER",
    }
)


def classify_mysql(database_privileges: Iterable[str], table_grants: bool = False) -> Permission:
    """``database_privileges`` as ``information_schema.SCHEMA_PRIVILEGES`` lists them (GRANT
    OPTION does not change the permission); ``table_grants``: the user also holds grants on
    single tables or columns of the database (always ``custom``)."""
    held = frozenset(database_privileges) - {"GRANT OPTION"}
    if table_grants:
        return Permission.CUSTOM
    if not held:
        return Permission.NONE
    if held >= _MYSQL_ALL:
        return Permission.ALL
    for permission in (Permission.READWRITE, Permission.READONLY):
        if held == frozenset(MYSQL_GRANTS[permission]):
            return permission
    return Permission.CUSTOM
