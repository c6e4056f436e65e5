"""SQL the MySQL-family agent runs, composed with the quoting helpers below.

PyMySQL has no SQL composition module and utility statements (CREATE USER, GRANT, SET GLOBAL)
take no bound parameters, so names and literals are quoted here, never formatted in raw.

String literals are written so that they read the same with and without ``NO_BACKSLASH_ESCAPES``
in ``sql_mode`` (which users may set): quotes are doubled, and a backslash, whose meaning depends
on that mode, is refused rather than escaped. None of our literals (account names, password
hashes, setting values) needs one.
"""

from __future__ import annotations

import re

from agents.base import SUPERUSER
from agents.mysql.flavors import Flavor

MAX_IDENTIFIER = 64
_HASH_RE = re.compile(r"\*[0-9A-F]{40}")
_VARIABLE_RE = re.compile(r"[a-z][a-z0-9_]*")
_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def quote_identifier(name: str) -> str:
    """`` `name` `` with backticks doubled; backslashes are literal inside backticks."""
    if not name or len(name) > MAX_IDENTIFIER:
        raise ValueError(f"identifier must be 1 to {MAX_IDENTIFIER} characters: {name!r}")
    if "\x00" in name or name.endswith(" "):
        raise ValueError(f"invalid identifier {name!r}")
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """``'value'`` with quotes doubled; refuses what would depend on sql_mode or truncate."""
    if "\\" in value or "\x00" in value:
        raise ValueError(f"backslash or NUL not allowed in a string literal: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def account(user: str, host: str = "%") -> str:
    return f"{quote_string(user)}@{quote_string(host)}"


def grant_database(name: str) -> str:
    """A database as a GRANT target: ``_`` and ``%`` are wildcards there, so they are escaped."""
    pattern = name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return quote_identifier(pattern)


def native_hash(verifier: str) -> str:
    if not _HASH_RE.fullmatch(verifier):
        raise ValueError("not a mysql_native_password hash ('*' and 40 upper-case hex digits)")
    return quote_string(verifier)


def identified_by_hash(flavor: Flavor, verifier: str) -> str:
    return flavor.identified_by_hash.format(hash=native_hash(verifier))


def create_superuser(flavor: Flavor, verifier: str) -> str:
    """The init script's SQL: the control plane's own account, all privileges.

    It runs with the server offline (``--bootstrap`` / ``--init-file``), which starts without the
    grant tables loaded: FLUSH PRIVILEGES loads them so that CREATE USER works.
    """
    who = account(SUPERUSER)
    return (
        "FLUSH PRIVILEGES;\n"
        f"CREATE USER {who} {identified_by_hash(flavor, verifier)};\n"
        f"GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION;\n"
    )


def create_user(flavor: Flavor, user: str, verifier: str) -> str:
    return f"CREATE USER IF NOT EXISTS {account(user)} {identified_by_hash(flavor, verifier)}"


def set_password(flavor: Flavor, user: str, verifier: str) -> str:
    return f"ALTER USER {account(user)} {identified_by_hash(flavor, verifier)}"


def create_database(name: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name)} CHARACTER SET utf8mb4"


def grant_all_on_database(database: str, user: str) -> str:
    return (
        f"GRANT ALL PRIVILEGES ON {grant_database(database)}.* TO {account(user)} WITH GRANT OPTION"
    )


def grant_global(flavor: Flavor, user: str) -> str:
    return f"GRANT {', '.join(flavor.admin_global_privileges)} ON *.* TO {account(user)}"


def set_global(name: str, value: str) -> str:
    """``SET GLOBAL name = value``: numbers bare (an integer variable refuses a string)."""
    if not _VARIABLE_RE.fullmatch(name):
        raise ValueError(f"not a server variable name: {name!r}")
    literal = value if _NUMBER_RE.fullmatch(value) else quote_string(value)
    return f"SET GLOBAL {name} = {literal}"


def client_sessions() -> str:
    """Sessions of users: not the control plane's (``%s``) or the replication account's
    (``%s``), nor the server's own threads (replica threads, the event scheduler) or clients
    still authenticating (the load balancer's health checks)."""
    return (
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER NOT IN"
        " (%s, %s, 'system user', 'event_scheduler', 'unauthenticated user')"
    )


# Binlog_commits (MariaDB): every transaction that wrote, as the binary log (always on, and on
# followers too: log_slave_updates) recorded it; MySQL has no such counter: Com_commit there.
WRITE_COUNTERS = "SHOW GLOBAL STATUS WHERE Variable_name IN ('Binlog_commits', 'Com_commit')"
