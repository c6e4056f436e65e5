"""What the customer's admin may do beyond its own databases, as definer-rights procedures.

MariaDB has no ``SYSTEM_USER``: an account with global ``CREATE USER`` can alter, rename or drop
every account, the service's own included. So the customer's admin has no global privilege but
``SHOW DATABASES``; it has ``ALL ... WITH GRANT OPTION`` on its databases, and these procedures
(``SQL SECURITY DEFINER``, run as the service account) for the rest:

    CALL _rdb.create_user('app', 'S3cret!pass');   -- 'app'@'%', no privileges yet
    CALL _rdb.set_password('app', 'N3w!pass');
    CALL _rdb.drop_user('app');
    CALL _rdb.create_database('shop');             -- the caller gets ALL ... WITH GRANT OPTION

Each checks the names it is given: accounts and databases starting with ``_rdb`` (any case) and
the server's own (root, mysql, mariadb.sys, the system schemas) are refused, so no path leads to
a service account. Statements are built with ``QUOTE()`` and names that passed a strict pattern;
the routines are created under a fixed ``sql_mode`` (a routine keeps the mode it was created
with), so backslash escaping means the same whatever the caller's session says.
"""

from __future__ import annotations

import hashlib

from agents.base import SUPERUSER
from agents.mysql import sql

SCHEMA = "_rdb"
SQL_MODE = "STRICT_ALL_TABLES"
ROUTINES = ("create_user", "set_password", "drop_user", "create_database")
_NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_$-]{0,31}$"
_DATABASE_PATTERN = "^[A-Za-z0-9_$-]{1,64}$"
_RESERVED_USERS = "'root', 'mysql', 'mariadb.sys', 'public'"
_SYSTEM_SCHEMAS = "'mysql', 'information_schema', 'performance_schema', 'sys'"

_CHECK_USER = f"""\
  IF user_name IS NULL OR user_name NOT REGEXP '{_NAME_PATTERN}'
     OR LOWER(user_name) LIKE '\\_rdb%' OR LOWER(user_name) IN ({_RESERVED_USERS}) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
      'user names are 1 to 32 letters, digits, _, $ or -, start with a letter, not _rdb';
  END IF;
"""
_CHECK_DATABASE = f"""\
  IF database_name IS NULL OR database_name NOT REGEXP '{_DATABASE_PATTERN}'
     OR LOWER(database_name) LIKE '\\_rdb%' OR LOWER(database_name) IN ({_SYSTEM_SCHEMAS}) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
      'database names are 1 to 64 letters, digits, _, $ or -, not _rdb or a system schema';
  END IF;
"""


def _run(expression: str) -> str:
    """Execute a statement built at run time; the session variable is cleared at once (it may
    hold a password), and prepared statements are the one form both flavors support."""
    return (
        f"  SET @_rdb_statement = {expression};\n"
        "  PREPARE _rdb_prepared FROM @_rdb_statement;\n"
        "  SET @_rdb_statement = NULL;\n"
        "  EXECUTE _rdb_prepared;\n"
        "  DEALLOCATE PREPARE _rdb_prepared;\n"
    )


def _bodies() -> dict[str, tuple[str, str]]:
    """Routine name -> (parameters, body)."""
    account = "QUOTE(user_name), '@''%'''"
    caller = "QUOTE(SUBSTRING_INDEX(USER(), '@', 1)), '@''%'''"
    # A database as a GRANT target: '_' is a wildcard there (the pattern admits no '%' or '`').
    grant_target = "'`', REPLACE(database_name, '_', '\\\\_'), '`.*'"
    return {
        "create_user": (
            "IN user_name VARCHAR(64), IN password VARCHAR(256)",
            _CHECK_USER
            + _run(f"CONCAT('CREATE USER ', {account}, ' IDENTIFIED BY ', QUOTE(password))"),
        ),
        "set_password": (
            "IN user_name VARCHAR(64), IN password VARCHAR(256)",
            _CHECK_USER
            + _run(f"CONCAT('ALTER USER ', {account}, ' IDENTIFIED BY ', QUOTE(password))"),
        ),
        "drop_user": (
            "IN user_name VARCHAR(64)",
            _CHECK_USER + "  IF user_name = SUBSTRING_INDEX(USER(), '@', 1) THEN\n"
            "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'an account cannot drop itself';\n"
            "  END IF;\n" + _run(f"CONCAT('DROP USER ', {account})"),
        ),
        "create_database": (
            "IN database_name VARCHAR(64)",
            _CHECK_DATABASE
            + _run("CONCAT('CREATE DATABASE ', '`', database_name, '`', ' CHARACTER SET utf8mb4')")
            + _run(
                f"CONCAT('GRANT ALL PRIVILEGES ON ', {grant_target}, ' TO ', {caller}, "
                "' WITH GRANT OPTION')"
            ),
        ),
    }


def version() -> str:
    """Changes whenever a routine does: stored in each routine's comment."""
    text = repr(sorted(_bodies().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_statements() -> list[str]:
    """Idempotent: the schema, then each routine replaced, run as the service account."""
    definer = sql.account(SUPERUSER)
    statements = [
        f"SET SESSION sql_mode = {sql.quote_string(SQL_MODE)}",
        f"CREATE DATABASE IF NOT EXISTS {sql.quote_identifier(SCHEMA)}",
    ]
    comment = sql.quote_string(f"dbaas {version()}")
    for name, (parameters, body) in sorted(_bodies().items()):
        routine = f"{sql.quote_identifier(SCHEMA)}.{sql.quote_identifier(name)}"
        statements.append(f"DROP PROCEDURE IF EXISTS {routine}")  # MySQL has no OR REPLACE
        statements.append(
            f"CREATE DEFINER={definer} PROCEDURE {routine}({parameters})\n"
            f"SQL SECURITY DEFINER MODIFIES SQL DATA COMMENT {comment}\n"
            f"BEGIN\n{body}END"
        )
    return statements


def installed_version_query() -> str:
    """One row per routine that carries the current version (all present: up to date)."""
    return (
        "SELECT COUNT(*) FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA = %s AND ROUTINE_COMMENT = %s"
    )


def grant_execute(user: str) -> str:
    return f"GRANT EXECUTE ON {sql.quote_identifier(SCHEMA)}.* TO {sql.account(user)}"
