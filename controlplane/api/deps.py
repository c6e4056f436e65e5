"""Typed request dependencies: a database session, the caller, the region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query
from sqlalchemy.orm import Session

from controlplane.db.session import session_factory
from controlplane.domain.errors import InvalidArguments
from controlplane.services.tenancy import Principal, authenticate
from controlplane.settings import Settings, get_settings


def _session() -> Iterator[Session]:
    session = session_factory()()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _principal(
    session: SessionDep, x_auth_token: Annotated[str | None, Header()] = None
) -> Principal:
    principal = authenticate(session, x_auth_token)
    session.rollback()  # end the read transaction; routes start their own
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _region(region: Annotated[str, Path()], settings: SettingsDep) -> str:
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
