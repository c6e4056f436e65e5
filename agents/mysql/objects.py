"""Customer databases, users and privileges on MariaDB (MySQL 8 through ``flavors``).

Accounts are ``'name'@'%'``. An admin is what the initial admin is (``agent.ensure_admin``) but
its database privileges: global ``SHOW DATABASES`` and EXECUTE on the ``_rdb`` routines, nothing
that reaches accounts or the server. Privileges are database-level grants on ``db``.* (``_`` is
escaped: it is a wildcard in a GRANT target). Databases made through the API are recorded in
``_rdb.managed_databases`` (the customer cannot write there), so the list can tell them from
those an admin made with ``CALL _rdb.create_database``; ``rdb`` is always managed.

Every statement here is binlogged and replicated (followers get the same accounts and grants).
"""

from __future__ import annotations

import re
from collections import defaultdict

import pymysql
from pymysql.cursors import Cursor

from agents.base import SUPERUSER, DatabaseInfo, PrivilegeInfo, UserInfo, wait_until_unused
from agents.mysql import admin_routines, sql
from agents.mysql.flavors import Flavor
from controlplane.domain import privileges as p
from controlplane.domain.engine_objects import (
    DEFAULT_DATABASE,
    ObjectRefused,
    Refusal,
    is_internal_database,
    is_internal_user,
)

FAMILY = "mysql"
MANAGED_TABLE = "managed_databases"
# REVOKE of something never granted (on a server, a table; a table that is gone)
NO_SUCH_GRANT = frozenset({1141, 1147, 1146})
UNKNOWN_THREAD = 1094
_GRANTEE = re.compile(r"^'(.*)'@'(.*)'$")


def _managed_table() -> str:
    return f"{sql.quote_identifier(admin_routines.SCHEMA)}.{sql.quote_identifier(MANAGED_TABLE)}"


def _users(cursor: Cursor) -> dict[str, bool]:
    """Customer accounts: name -> is_admin (EXECUTE on the ``_rdb`` routines)."""
    cursor.execute("SELECT User FROM mysql.user WHERE Host = '%'")
    names = [str(row[0]) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT User FROM mysql.db WHERE Host = '%%' AND Db = %s AND Execute_priv = 'Y'",
        (admin_routines.SCHEMA,),
    )
    admins = {str(row[0]) for row in cursor.fetchall()}
    return {n: n in admins for n in sorted(names) if not is_internal_user(n, FAMILY)}


def _databases(cursor: Cursor) -> list[str]:
    cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
    names = [str(row[0]) for row in cursor.fetchall()]
    return sorted(n for n in names if not is_internal_database(n, FAMILY))


def _managed(cursor: Cursor) -> set[str]:
    """Reads only: no write (binlogged, waiting for a standby) on a read path."""
    cursor.execute(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (admin_routines.SCHEMA, MANAGED_TABLE),
    )
    names = {DEFAULT_DATABASE}
    if cursor.fetchone() is not None:
        cursor.execute(f"SELECT name FROM {_managed_table()}")
        names |= {str(row[0]) for row in cursor.fetchall()}
    return names


def _require_user(cursor: Cursor, name: str) -> bool:
    users = _users(cursor)
    if name not in users:
        raise ObjectRefused(Refusal.NOT_FOUND, "user", name, f"user {name!r} does not exist")
    return users[name]


def _require_database(cursor: Cursor, name: str) -> None:
    if name not in _databases(cursor):
        raise ObjectRefused(
            Refusal.NOT_FOUND, "database", name, f"database {name!r} does not exist"
        )


def _revoke(cursor: Cursor, statement: str) -> None:
    """A REVOKE that may find nothing to revoke."""
    try:
        cursor.execute(statement)
    except pymysql.MySQLError as exc:
        if not (exc.args and exc.args[0] in NO_SUCH_GRANT):
            raise


# --- databases ------------------------------------------------------------------------------


def list_databases(cursor: Cursor, sizes: bool) -> list[DatabaseInfo]:
    names = _databases(cursor)
    size: dict[str, int] = defaultdict(int)
    if sizes:
        cursor.execute(
            "SELECT TABLE_SCHEMA, COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)"
            " FROM information_schema.TABLES GROUP BY TABLE_SCHEMA"
        )
        size.update({str(s): int(n) for s, n in cursor.fetchall()})
    managed = _managed(cursor)
    return [
        DatabaseInfo(n, SUPERUSER if n in managed else "", n in managed, size[n]) for n in names
    ]


def create_database(cursor: Cursor, name: str) -> None:
    if name in _databases(cursor):
        raise ObjectRefused(Refusal.EXISTS, "database", name, f"database {name!r} already exists")
    cursor.execute(f"CREATE DATABASE {sql.quote_identifier(name)} CHARACTER SET utf8mb4")
    cursor.execute(f"CREATE DATABASE IF NOT EXISTS {sql.quote_identifier(admin_routines.SCHEMA)}")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {_managed_table()} (name VARCHAR(64) PRIMARY KEY)")
    cursor.execute(f"INSERT IGNORE INTO {_managed_table()} (name) VALUES (%s)", (name,))


def drop_database(cursor: Cursor, name: str, internal_users: tuple[str, ...]) -> None:
    """Refused while a customer session uses it; its grants go first (they would otherwise
    apply to a later database of the same name)."""
    _require_database(cursor, name)
    placeholders = ", ".join(["%s"] * len(internal_users))

    def sessions() -> int:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
            f" WHERE DB = %s AND USER NOT IN ({placeholders})",
            (name, *internal_users),
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    if users_connected := wait_until_unused(sessions):
        raise ObjectRefused(
            Refusal.IN_USE,
            "database",
            name,
            f"database {name!r} is in use ({users_connected} session(s) connected): "
            "close them first",
        )
    for user in _users(cursor):
        _revoke_database(cursor, name, user)
    cursor.execute(f"DROP DATABASE {sql.quote_identifier(name)}")
    # rdb is managed without a row (and maybe before the table exists): nothing to delete
    if name != DEFAULT_DATABASE and name in _managed(cursor):
        cursor.execute(f"DELETE FROM {_managed_table()} WHERE name = %s", (name,))


# --- users ----------------------------------------------------------------------------------


def list_users(cursor: Cursor) -> list[UserInfo]:
    return [UserInfo(name, admin) for name, admin in _users(cursor).items()]


def create_user(cursor: Cursor, flavor: Flavor, name: str, verifier: str, is_admin: bool) -> None:
    cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = '%%'", (name,))
    if cursor.fetchone() is not None or is_internal_user(name, FAMILY):
        raise ObjectRefused(Refusal.EXISTS, "user", name, f"user {name!r} already exists")
    cursor.execute(sql.create_user(flavor, name, verifier))
    if is_admin:
        _grant_admin(cursor, flavor, name)


def _grant_admin(cursor: Cursor, flavor: Flavor, name: str) -> None:
    cursor.execute(sql.grant_global(flavor, name))
    cursor.execute(admin_routines.grant_execute(name))


def update_user(
    cursor: Cursor, flavor: Flavor, name: str, verifier: str | None, is_admin: bool | None
) -> None:
    _require_user(cursor, name)
    if verifier is not None:
        cursor.execute(sql.set_password(flavor, name, verifier))
    if is_admin is True:
        _grant_admin(cursor, flavor, name)
    elif is_admin is False:
        privileges = ", ".join(flavor.admin_global_privileges)
        _revoke(cursor, f"REVOKE {privileges} ON *.* FROM {sql.account(name)}")
        schema = sql.quote_identifier(admin_routines.SCHEMA)
        _revoke(cursor, f"REVOKE EXECUTE ON {schema}.* FROM {sql.account(name)}")


def drop_user(cursor: Cursor, name: str) -> None:
    _require_user(cursor, name)
    cursor.execute(f"DROP USER {sql.account(name)}")  # its privileges go with it
    cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (name,))
    for (session,) in cursor.fetchall():
        try:
            cursor.execute(f"KILL CONNECTION {int(session)}")
        except pymysql.MySQLError as exc:  # it ended meanwhile (unknown thread id)
            if not (exc.args and exc.args[0] == UNKNOWN_THREAD):
                raise


# --- privileges -----------------------------------------------------------------------------


def _unescape(pattern: str) -> str:
    return pattern.replace("\\_", "_").replace("\\%", "%")


def list_privileges(cursor: Cursor) -> list[PrivilegeInfo]:
    users, databases = _users(cursor), _databases(cursor)
    cursor.execute(
        "SELECT GRANTEE, TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES"
    )
    held: dict[tuple[str, str], set[str]] = defaultdict(set)
    for grantee, schema, privilege in cursor.fetchall():
        match = _GRANTEE.match(str(grantee))
        if match and match.group(2) == "%":
            held[_unescape(str(schema)), match.group(1)].add(str(privilege))
    narrower: set[tuple[str, str]] = set()  # grants on single tables or columns
    for view in ("TABLE_PRIVILEGES", "COLUMN_PRIVILEGES"):
        cursor.execute(f"SELECT DISTINCT GRANTEE, TABLE_SCHEMA FROM information_schema.{view}")
        for grantee, schema in cursor.fetchall():
            match = _GRANTEE.match(str(grantee))
            if match and match.group(2) == "%":
                narrower.add((str(schema), match.group(1)))
    return [
        PrivilegeInfo(
            database,
            user,
            p.classify_mysql(held[database, user], (database, user) in narrower).value,
        )
        for database in databases
        for user in users
    ]


def _revoke_database(cursor: Cursor, database: str, user: str) -> None:
    """Everything ``user`` holds on ``database``: the database-level grant in both spellings
    of the target (escaped, ours; as typed by someone who forgot to), and grants on single
    tables or columns."""
    account = sql.account(user)
    targets = {f"{t}.*" for t in (sql.grant_database(database), sql.quote_identifier(database))}
    cursor.execute(
        "SELECT DISTINCT TABLE_NAME FROM information_schema.TABLE_PRIVILEGES"
        " WHERE GRANTEE = %s AND TABLE_SCHEMA = %s"
        " UNION SELECT DISTINCT TABLE_NAME FROM information_schema.COLUMN_PRIVILEGES"
        " WHERE GRANTEE = %s AND TABLE_SCHEMA = %s",
        (f"'{user}'@'%'", database) * 2,
    )
    for (table,) in cursor.fetchall():
        targets.add(f"{sql.quote_identifier(database)}.{sql.quote_identifier(str(table))}")
    for target in sorted(targets):
        _revoke(cursor, f"REVOKE ALL PRIVILEGES ON {target} FROM {account}")
        _revoke(cursor, f"REVOKE GRANT OPTION ON {target} FROM {account}")


def set_privilege(cursor: Cursor, database: str, user: str, permission: str) -> None:
    wanted = p.Permission(permission)
    _require_database(cursor, database)
    is_admin = _require_user(cursor, user)
    _revoke_database(cursor, database, user)
    if wanted not in p.MYSQL_GRANTS:
        return
    grant = (
        f"GRANT {', '.join(p.MYSQL_GRANTS[wanted])} ON {sql.grant_database(database)}.*"
        f" TO {sql.account(user)}"
    )
    if wanted == p.Permission.ALL and is_admin:  # as the initial admin holds rdb
        grant += " WITH GRANT OPTION"
    cursor.execute(grant)
