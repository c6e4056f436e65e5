"""Database, User, Privilege (responses, 3.6) and their request bodies (5.5)."""

from __future__ import annotations

from typing import Annotated

from controlplane.api.schemas.common import WireRequest, WireResponse, null_as
from controlplane.api.schemas.enums import Permission


class Database(WireResponse):
    name: str
    owner: str
    managed: bool
    size: int


class User(WireResponse):
    name: str
    is_admin: bool


class Privilege(WireResponse):
    permission: Permission
    database_name: str
    user_name: str


class ListDatabasesResponse(WireResponse):
    databases: list[Database]
    total_count: int


class ListUsersResponse(WireResponse):
    users: list[User]
    total_count: int


class ListPrivilegesResponse(WireResponse):
    privileges: list[Privilege]
    total_count: int


class CreateDatabaseRequest(WireRequest):
    name: Annotated[str, null_as("")] = ""


class CreateUserRequest(WireRequest):
    name: Annotated[str, null_as("")] = ""
    password: Annotated[str, null_as("")] = ""
    is_admin: Annotated[bool, null_as(False)] = False


class UpdateUserRequest(WireRequest):
    """Only what is given changes (Go sends ``"is_admin": null`` for "unchanged")."""

    password: str | None = None
    is_admin: bool | None = None


class SetPrivilegeRequest(WireRequest):
    """Python omits ``permission`` when None: the API's default is ``readonly``."""

    database_name: Annotated[str, null_as("")] = ""
    user_name: Annotated[str, null_as("")] = ""
    permission: Annotated[str, null_as(Permission.READONLY.value)] = Permission.READONLY.value
