"""Databases and users inside an instance: name rules, what is the service's own, refusals.

Pure and shared by the API (validation), the agents (what lists hide, what they refuse to touch)
and the workers (what a refusal becomes in the operation's result). The service's own accounts
(``_rdb_superadmin``, ``_rdb_replicator``, anything starting with ``_rdb``) and the engine's
(PostgreSQL ``pg_*`` roles and its maintenance databases; MariaDB ``root``, ``mysql``,
``mariadb.sys`` and the system schemas) never appear in a list and cannot be named in a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controlplane.domain import rules
from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.failures import PermanentError

DATABASE_NAME_MAX = 63  # PostgreSQL's identifier limit (MariaDB allows 64)
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_$-]*")  # fullmatch
SYSTEM_DATABASES = {
    "postgresql": frozenset({"postgres", "template0", "template1"}),
    "mysql": frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
}
RESERVED_USERS = {
    # CREATE ROLE refuses these (or they name a pseudo-role)
    "postgresql": frozenset({"public", "none", "current_user", "session_user", "current_role"}),
    "mysql": frozenset({"root", "mysql", "mariadb.sys", "public", "none"}),
}
DEFAULT_DATABASE = "rdb"


def _reserved_prefix(name: str) -> bool:
    return name.lower().startswith("_rdb")


def is_internal_user(name: str, family: str) -> bool:
    lowered = name.lower()
    if _reserved_prefix(name) or lowered in RESERVED_USERS.get(family, frozenset()):
        return True
    return family == "postgresql" and lowered.startswith("pg_")


def is_internal_database(name: str, family: str) -> bool:
    return _reserved_prefix(name) or name.lower() in SYSTEM_DATABASES.get(family, frozenset())


def user_name_errors(name: str, family: str, argument: str = "name") -> list[ArgumentError]:
    errors = rules.user_name_errors(name, family, argument)
    if not errors and is_internal_user(name, family):
        errors.append(ArgumentError(argument, Reason.CONSTRAINT, f"{name!r} is a reserved name"))
    return errors


def database_name_errors(name: str, family: str, argument: str = "name") -> list[ArgumentError]:
    def err(message: str) -> list[ArgumentError]:
        return [ArgumentError(argument, Reason.CONSTRAINT, message)]

    if not 1 <= len(name) <= DATABASE_NAME_MAX:
        return err(f"database name must be 1 to {DATABASE_NAME_MAX} characters long")
    if not _DATABASE_NAME.fullmatch(name):
        return err("database name must be letters, digits, _, $ or -, not starting with $ or -")
    if is_internal_database(name, family):
        return err(f"{name!r} is a reserved database name")
    return []


class Refusal(StrEnum):
    EXISTS = "exists"
    NOT_FOUND = "not_found"
    IN_USE = "in_use"
    PROTECTED = "protected"


class ObjectRefused(PermanentError):
    """The engine refused a request about one of its objects for a reason the user can act on
    (it exists already, it does not, it is in use). Workers record it as the operation's
    result; the API turns it into the matching Scaleway error."""

    def __init__(self, refusal: Refusal, resource: str, name: str, message: str):
        super().__init__(message)
        self.refusal = refusal
        self.resource = resource  # user | database
        self.name = name
        self.message = message

    def as_result(self) -> dict[str, Any]:
        return {
            "refused": {
                "refusal": self.refusal.value,
                "resource": self.resource,
                "name": self.name,
                "message": self.message,
            }
        }


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total_count: int


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
USER_ORDERS: dict[str, tuple[str, ...]] = {
    "name_asc": ("name",),
    "name_desc": ("name",),
    "is_admin_asc": ("is_admin", "name"),
    "is_admin_desc": ("is_admin", "name"),
}
DATABASE_ORDERS: dict[str, tuple[str, ...]] = {
    "name_asc": ("name",),
    "name_desc": ("name",),
    "size_asc": ("size", "name"),
    "size_desc": ("size", "name"),
}
PRIVILEGE_ORDERS: dict[str, tuple[str, ...]] = {
    "user_name_asc": ("user_name", "database_name"),
    "user_name_desc": ("user_name", "database_name"),
    "database_name_asc": ("database_name", "user_name"),
    "database_name_desc": ("database_name", "user_name"),
}


def order_errors(order_by: str, orders: dict[str, tuple[str, ...]]) -> list[ArgumentError]:
    if order_by in orders:
        return []
    return [
        ArgumentError("order_by", Reason.CONSTRAINT, f"order_by must be one of {sorted(orders)}")
    ]


def page_errors(page: int, page_size: int | None) -> list[ArgumentError]:
    errors = []
    if page < 1:
        errors.append(ArgumentError("page", Reason.CONSTRAINT, "page starts at 1"))
    if page_size is not None and not 0 <= page_size <= MAX_PAGE_SIZE:
        errors.append(
            ArgumentError("page_size", Reason.CONSTRAINT, f"page_size is at most {MAX_PAGE_SIZE}")
        )
    return errors


def select_page(
    rows: list[dict[str, Any]],
    filters: dict[str, Any],
    order_by: str,
    orders: dict[str, tuple[str, ...]],
    page: int,
    page_size: int | None,
) -> Page:
    """Filter (exact matches: Terraform reads one object as element [0] of a filtered list,
    the CLI wants ``total_count == 1``), order, then cut one page out."""
    wanted = [r for r in rows if all(r[k] == v for k, v in filters.items() if v is not None)]
    keys = orders[order_by]
    wanted.sort(key=lambda r: tuple(r[k] for k in keys), reverse=order_by.endswith("_desc"))
    size = page_size or DEFAULT_PAGE_SIZE
    start = (page - 1) * size
    return Page(wanted[start : start + size], len(wanted))
