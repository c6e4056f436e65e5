"""Customer databases, users and privileges on PostgreSQL, as the control plane's superuser.

A managed database (made through the API, and ``rdb``) is owned by ``_rdb_superadmin``; one made
through the API is also private (PUBLIC's CONNECT and TEMPORARY revoked), and setting ``none``
on ``rdb`` makes it private too: ``none`` means "cannot connect".
Privileges cover the database, its schema ``public`` and what is in it (tables, views,
sequences), now and later: every role that can create in ``public`` (the database owner, and
each user with ``all``) gets default privileges for each user of the database, so a table one
user makes is readable by a ``readonly`` user without anyone granting it. The owner's default
privileges are also the record of each user's level when there is no table yet.

Statements are composed with ``psycopg.sql``; privilege keywords come from fixed tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import psycopg
from psycopg import sql

from agents.base import SUPERUSER, DatabaseInfo, PrivilegeInfo, UserInfo, wait_until_unused
from controlplane.domain import privileges as p
from controlplane.domain.engine_objects import (
    ObjectRefused,
    Refusal,
    is_internal_database,
    is_internal_user,
)

Open = Callable[[str], AbstractContextManager[psycopg.Connection]]  # database name -> session
FAMILY = "postgresql"
MAINTENANCE_DB = "postgres"
ADMIN_ATTRIBUTES = sql.SQL("CREATEDB CREATEROLE")  # as agents/postgres/sql.create_admin_role
_ALL_DATABASE = frozenset({"CONNECT", "CREATE", "TEMPORARY"})
_ALL_SCHEMA = frozenset({"USAGE", "CREATE"})
_KEYWORDS = frozenset(
    {"ALL", "CONNECT", "CREATE", "TEMPORARY", "USAGE", "SELECT", "INSERT", "UPDATE", "DELETE"}
    | {"TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
)
_TABLE_KINDS = "('r', 'p', 'v', 'm', 'f')"


def _privileges(names: Iterable[str]) -> sql.Composable:
    words = sorted(set(names))
    if not set(words) <= _KEYWORDS:
        raise ValueError(f"unexpected privileges {words}")
    return sql.SQL(", ").join(sql.SQL(w) for w in words)


def _customer_roles(c: psycopg.Connection) -> dict[str, tuple[int, bool]]:
    """Login roles of the customer: name -> (oid, is_admin)."""
    rows = c.execute(
        "SELECT rolname, oid::bigint, rolcreaterole FROM pg_roles"
        " WHERE rolcanlogin AND NOT rolsuper AND NOT rolreplication"
    ).fetchall()
    return {name: (oid, admin) for name, oid, admin in rows if not is_internal_user(name, FAMILY)}


def _databases(c: psycopg.Connection) -> dict[str, str]:
    """Customer databases: name -> owner."""
    rows = c.execute(
        "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
        " WHERE datallowconn AND NOT datistemplate"
    ).fetchall()
    return {name: owner for name, owner in rows if not is_internal_database(name, FAMILY)}


def _require_user(c: psycopg.Connection, name: str) -> tuple[int, bool]:
    found = _customer_roles(c).get(name)
    if found is None:
        raise ObjectRefused(Refusal.NOT_FOUND, "user", name, f"user {name!r} does not exist")
    return found


def _require_database(c: psycopg.Connection, name: str) -> str:
    owner = _databases(c).get(name)
    if owner is None:
        raise ObjectRefused(
            Refusal.NOT_FOUND, "database", name, f"database {name!r} does not exist"
        )
    return owner


# --- databases ------------------------------------------------------------------------------


def list_databases(open_: Open, sizes: bool) -> list[DatabaseInfo]:
    with open_(MAINTENANCE_DB) as c:
        rows = c.execute(
            "SELECT datname, pg_get_userbyid(datdba),"
            " CASE WHEN %s THEN pg_database_size(oid) ELSE 0 END"
            " FROM pg_database WHERE datallowconn AND NOT datistemplate",
            [sizes],
        ).fetchall()
    return [
        DatabaseInfo(name, owner, owner == SUPERUSER, int(size))
        for name, owner, size in rows
        if not is_internal_database(name, FAMILY)
    ]


def create_database(open_: Open, name: str) -> None:
    with open_(MAINTENANCE_DB) as c:
        if name in _databases(c):
            raise ObjectRefused(
                Refusal.EXISTS, "database", name, f"database {name!r} already exists"
            )
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        c.execute(make_private(name))


def make_private(database: str) -> sql.Composed:
    return sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))


def drop_database(open_: Open, name: str) -> None:
    with open_(MAINTENANCE_DB) as c:
        _require_database(c, name)

        def sessions() -> int:
            row = c.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                [name],
            ).fetchone()
            return int(row[0]) if row else 0

        if connected := wait_until_unused(sessions):
            raise _in_use(name, connected)
        try:
            c.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.ObjectInUse as exc:  # a session came in meanwhile
            raise _in_use(name, 1) from exc


def _in_use(name: str, sessions: int) -> ObjectRefused:
    return ObjectRefused(
        Refusal.IN_USE,
        "database",
        name,
        f"database {name!r} is in use ({sessions} session(s) connected): close them first",
    )


# --- users ----------------------------------------------------------------------------------


def list_users(open_: Open) -> list[UserInfo]:
    with open_(MAINTENANCE_DB) as c:
        return [UserInfo(n, admin) for n, (_, admin) in sorted(_customer_roles(c).items())]


def create_user(open_: Open, name: str, verifier: str, is_admin: bool) -> None:
    with open_(MAINTENANCE_DB) as c:
        taken = c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        if taken:
            raise ObjectRefused(Refusal.EXISTS, "user", name, f"user {name!r} already exists")
        attributes = ADMIN_ATTRIBUTES if is_admin else sql.SQL("")
        c.execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN {} PASSWORD {}").format(
                sql.Identifier(name), attributes, sql.Literal(verifier)
            )
        )
        if is_admin:
            c.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(name)))


def update_user(open_: Open, name: str, verifier: str | None, is_admin: bool | None) -> None:
    role = sql.Identifier(name)
    with open_(MAINTENANCE_DB) as c:
        _require_user(c, name)
        if verifier is not None:
            c.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(role, sql.Literal(verifier)))
        if is_admin is True:
            c.execute(sql.SQL("ALTER ROLE {} WITH {}").format(role, ADMIN_ATTRIBUTES))
            c.execute(sql.SQL("GRANT pg_monitor TO {}").format(role))
        elif is_admin is False:
            c.execute(sql.SQL("ALTER ROLE {} WITH NOCREATEDB NOCREATEROLE").format(role))
            c.execute(sql.SQL("REVOKE pg_monitor FROM {}").format(role))


def drop_user(open_: Open, name: str) -> None:
    """Refused while the user owns something (a database, a table...): dropping it would drop
    the customer's data, and handing it to the service's superuser would lock them out."""
    with open_(MAINTENANCE_DB) as c:
        oid, _ = _require_user(c, name)
        owned = c.execute(
            "SELECT DISTINCT coalesce(d.datname, '') FROM pg_shdepend s"
            " LEFT JOIN pg_database d ON d.oid = s.dbid"
            " WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s::oid"
            " AND s.deptype = 'o' AND s.dbid <> 0"  # a database: the second query names it
            " AND s.classid <> 'pg_default_acl'::regclass"  # what it grants: no data
            " UNION SELECT datname FROM pg_database WHERE datdba = %s::oid",
            [oid, oid],
        ).fetchall()
        if owned:
            where = ", ".join(sorted(row[0] or "the instance" for row in owned))
            raise ObjectRefused(
                Refusal.IN_USE,
                "user",
                name,
                f"user {name!r} owns objects in {where}: drop them or change their owner first",
            )
        granted = c.execute(
            "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s::oid",
            [oid],
        ).fetchall()
    # It owns nothing: DROP OWNED only revokes its privileges and default privileges.
    for (database,) in granted:
        with open_(database) as d:
            d.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with open_(MAINTENANCE_DB) as c:
        c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))  # database grants
        c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [name]
        )


# --- privileges -----------------------------------------------------------------------------


def list_privileges(open_: Open) -> list[PrivilegeInfo]:
    with open_(MAINTENANCE_DB) as c:
        users = _customer_roles(c)
        databases = _databases(c)
        acl = c.execute(
            "SELECT d.datname, a.grantee::bigint, a.privilege_type FROM pg_database d,"
            " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
            " WHERE d.datallowconn AND NOT d.datistemplate"
        ).fetchall()
    on_database: dict[tuple[str, int], set[str]] = defaultdict(set)
    for database, grantee, privilege in acl:
        on_database[database, grantee].add(privilege)
    result = []
    for database, owner in sorted(databases.items()):
        with open_(database) as d:
            inside = _Inside(d)
        for user, (oid, _) in sorted(users.items()):
            grants = inside.for_role(oid, on_database[database, oid], owner == user)
            result.append(PrivilegeInfo(database, user, p.classify_postgres(grants).value))
    return result


class _Inside:
    """The grants of one database's schema public, its tables and default privileges."""

    def __init__(self, d: psycopg.Connection):
        schema = d.execute(
            "SELECT pg_get_userbyid(n.nspowner), a.grantee::bigint, a.privilege_type"
            " FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a"
            " WHERE n.nspname = 'public'"
        ).fetchall()
        self.schema_owner = schema[0][0] if schema else None
        self.schema: dict[int, set[str]] = defaultdict(set)
        for _, grantee, privilege in schema:
            self.schema[grantee].add(privilege)
        owners = d.execute(
            "SELECT c.relowner::bigint, count(*) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = 'public' AND c.relkind IN {_TABLE_KINDS} GROUP BY 1"
        ).fetchall()
        self.owned = {owner: int(n) for owner, n in owners}
        self.total = sum(self.owned.values())
        self.tables: dict[int, dict[str, int]] = defaultdict(dict)
        for grantee, privilege, n in d.execute(
            "SELECT a.grantee::bigint, a.privilege_type, count(*) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace,"
            " aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a"
            f" WHERE n.nspname = 'public' AND c.relkind IN {_TABLE_KINDS}"
            " AND a.grantee <> c.relowner GROUP BY 1, 2"
        ).fetchall():
            self.tables[grantee][privilege] = int(n)
        self.defaults: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        for creator, grantee, privilege in _default_acl(d, "r"):
            self.defaults[grantee][creator].add(privilege)

    def for_role(self, oid: int, database: set[str], owns_database: bool) -> p.PgGrants:
        owns_schema = self.schema_owner == "pg_database_owner" and owns_database
        return p.PgGrants(
            database=frozenset(_ALL_DATABASE if owns_database else database),
            schema=frozenset(_ALL_SCHEMA if owns_schema else self.schema.get(oid, set())),
            other_tables=self.total - self.owned.get(oid, 0),
            tables=dict(self.tables.get(oid, {})),
            defaults=tuple(frozenset(s) for c, s in self.defaults.get(oid, {}).items() if c != oid),
        )


def _default_acl(d: psycopg.Connection, kind: str) -> list[tuple[int, int, str]]:
    """(creator, grantee, privilege) of the default privileges in schema public on tables
    (``r``) or sequences (``S``)."""
    rows = d.execute(
        "SELECT d.defaclrole::bigint, a.grantee::bigint, a.privilege_type FROM pg_default_acl d"
        " JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a"
        " WHERE n.nspname = 'public' AND d.defaclobjtype::text = %s",
        [kind],
    ).fetchall()
    return [(int(c), int(g), str(priv)) for c, g, priv in rows]


def set_privilege(open_: Open, database: str, user: str, permission: str) -> None:
    wanted = p.Permission(permission)
    role = sql.Identifier(user)
    with open_(MAINTENANCE_DB) as c:
        owner = _require_database(c, database)
        oid, _ = _require_user(c, user)
        if owner == user:
            if wanted == p.Permission.ALL:
                return
            raise ObjectRefused(
                Refusal.PROTECTED,
                "database",
                database,
                f"{user!r} owns database {database!r}: an owner always holds all on it",
            )
        db = sql.Identifier(database)
        c.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(db, role))
        if wanted in p.PG_DATABASE:
            grant = _privileges(p.PG_DATABASE[wanted])
            c.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(grant, db, role))
        else:  # none: no connection either, whatever PUBLIC had (an older rdb)
            c.execute(make_private(database))
        owner_oid = c.execute("SELECT oid::bigint FROM pg_roles WHERE rolname = %s", [owner])
        owner_row = owner_oid.fetchone()
    with open_(database) as d:
        if d.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").fetchone() is None:
            return  # no schema public: the database level is all there is
        _revoke_inside(d, oid, role)
        if wanted in p.PG_SCHEMA:
            _grant_inside(d, oid, role, wanted, int(owner_row[0]) if owner_row else None)


def _revoke_inside(d: psycopg.Connection, oid: int, role: sql.Identifier) -> None:
    d.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(role))
    for kinds, word in ((_TABLE_KINDS, "TABLE"), ("('S')", "SEQUENCE")):
        names = d.execute(  # not its own tables: an owner's privileges stay
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = 'public' AND c.relkind IN {kinds} AND c.relowner <> %s::oid",
            [oid],
        ).fetchall()
        if names:
            targets = sql.SQL(", ").join(sql.Identifier("public", n) for (n,) in names)
            d.execute(sql.SQL("REVOKE ALL ON {} {} FROM {}").format(sql.SQL(word), targets, role))
    for kind, word in (("r", "TABLES"), ("S", "SEQUENCES")):
        creators = {creator for creator, grantee, _ in _default_acl(d, kind) if grantee == oid}
        for creator in sorted(creators):
            d.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public REVOKE ALL ON {} FROM {}"
                ).format(_role_of(d, creator), sql.SQL(word), role)
            )


def _role_of(d: psycopg.Connection, oid: int) -> sql.Identifier:
    row = d.execute("SELECT rolname FROM pg_roles WHERE oid = %s::oid", [oid]).fetchone()
    if row is None:
        raise ValueError(f"no role {oid}")
    return sql.Identifier(row[0])


def _creators(d: psycopg.Connection, owner_oid: int | None) -> set[int]:
    """Roles that can create in schema public: its owner and whoever holds CREATE there."""
    rows = d.execute(
        "SELECT a.grantee::bigint FROM pg_namespace n,"
        " aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a"
        " WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' AND a.grantee <> 0"
    ).fetchall()
    creators = {int(g) for (g,) in rows}
    owner = d.execute(
        "SELECT n.nspowner::bigint, pg_get_userbyid(n.nspowner) FROM pg_namespace n"
        " WHERE n.nspname = 'public'"
    ).fetchone()
    if owner is not None and owner[1] == "pg_database_owner":
        creators.discard(int(owner[0]))
        if owner_oid is not None:
            creators.add(owner_oid)
    elif owner is not None:
        creators.add(int(owner[0]))
    return creators


def _grant_inside(
    d: psycopg.Connection,
    oid: int,
    role: sql.Identifier,
    wanted: p.Permission,
    owner_oid: int | None,
) -> None:
    tables, sequences = _privileges(p.PG_TABLES[wanted]), _privileges(p.PG_SEQUENCES[wanted])
    d.execute(
        sql.SQL("GRANT {} ON SCHEMA public TO {}").format(_privileges(p.PG_SCHEMA[wanted]), role)
    )
    d.execute(sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA public TO {}").format(tables, role))
    d.execute(sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA public TO {}").format(sequences, role))
    default = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT {} ON {} TO {}")
    creators = _creators(d, owner_oid)
    for creator in sorted(creators - {oid}):
        creator_role = _role_of(d, creator)
        d.execute(default.format(creator_role, tables, sql.SQL("TABLES"), role))
        d.execute(default.format(creator_role, sequences, sql.SQL("SEQUENCES"), role))
    if wanted != p.Permission.ALL:
        return
    # A new creator: what it makes later reaches every user of the database as the owner's
    # does (the owner's default privileges record each user's level), and other creators.
    for kind, word in (("r", "TABLES"), ("S", "SEQUENCES")):
        mirrored: dict[int, set[str]] = defaultdict(set)
        for creator, grantee, privilege in _default_acl(d, kind):
            if creator == owner_oid and grantee not in (oid, 0):
                mirrored[grantee].add(privilege)
        for other in creators - {oid, owner_oid} - set(mirrored):
            mirrored[other] = {"ALL"}
        for grantee, held in sorted(mirrored.items()):
            d.execute(default.format(role, _privileges(held), sql.SQL(word), _role_of(d, grantee)))
