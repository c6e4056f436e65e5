"""Typed request dependencies: a database session, the caller, the region."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query
from sqlalchemy.orm import Session

from controlplane.db.session import read_session_factory, session_factory
from controlplane.domain.errors import InvalidArguments
from controlplane.services.tenancy import Principal, authenticate, remembered
from controlplane.settings import Settings, get_settings


# Dependencies are coroutines: FastAPI runs a plain function in its thread pool, a hop per
# dependency per request. None of them waits on I/O, except a key not remembered yet
# (tenancy.authenticate: one indexed lookup every few seconds per key).
async def _session() -> AsyncIterator[Session]:
    session = session_factory()()  # connects lazily, on its first statement
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_session)]


async def _settings() -> Settings:
    return get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _principal(x_auth_token: Annotated[str | None, Header()] = None) -> Principal:
    """A key remembered by this process costs no session; one not remembered yet is read
    through a read session of its own, apart from the writing routes' transactions."""
    principal = remembered(x_auth_token)
    if principal is None:
        with read_session_factory()() as session:
            principal = authenticate(session, x_auth_token)
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _region(region: Annotated[str, Path()], settings: SettingsDep) -> str:
    if region not in settings.regions:
        raise InvalidArguments.one(
            "region", f"unknown region {region!r}; available: {', '.join(settings.regions)}"
        )
    return region


RegionDep = Annotated[str, Depends(_region)]

# Pagination as the API defines it (uint32 pages; at most 100 items a page, checked by the
# services with their own message), bounded here so no query reaches the store out of range.
PageDep = Annotated[int, Query(ge=1, le=2**31 - 1)]
PageSizeDep = Annotated[int | None, Query(ge=0, le=2**31 - 1)]
