"""Organizations, projects and API keys: who a request is, and what it may see."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.db.models import ApiKey, Organization, Project
from controlplane.domain.errors import DeniedAuthentication, PermissionsDenied
from controlplane.secrets import hash_secret_key, new_access_key, new_secret_key


@dataclass(frozen=True)
class Principal:
    access_key: str
    organization_id: str
    project_ids: frozenset[str]
    default_project_id: str | None

    def require_project(self, session: Session, project_id: str) -> None:
        """The project is the organization's (a project newer than the remembered principal
        is looked up)."""
        if project_id in self.project_ids:
            return
        owner = session.scalar(select(Project.organization_id).where(Project.id == project_id))
        if owner != self.organization_id:
            raise PermissionsDenied(resource=f"project:{project_id}", action="write")


@dataclass(frozen=True)
class IssuedKey:
    access_key: str
    secret_key: str
    organization_id: str


# Who a key is, remembered briefly by each API process: a request then costs no query for it.
# A key or project change reaches every process within the TTL (no cross-process state).
PRINCIPAL_TTL_SECONDS = 10.0
PRINCIPAL_CACHE_SIZE = 10_000
_principals: dict[str, tuple[float, Principal]] = {}  # secret hash -> (expires, principal)


def authenticate(session: Session, token: str | None) -> Principal:
    """The key's holder. Only a SHA-256 of the secret is looked up or kept (an index lookup of
    a hash leaks nothing usable about the secret); unknown keys are never cached."""
    principal = remembered(token)
    if principal is not None:
        return principal
    secret_hash = hash_secret_key(token or "")
    principal = _load_principal(session, secret_hash)
    if len(_principals) >= PRINCIPAL_CACHE_SIZE:
        _principals.clear()
    _principals[secret_hash] = (time.monotonic() + PRINCIPAL_TTL_SECONDS, principal)
    return principal


def remembered(token: str | None) -> Principal | None:
    """The key's holder if this process read it within the TTL (no query); None otherwise."""
    if not token:
        raise DeniedAuthentication("invalid_argument")
    cached = _principals.get(hash_secret_key(token))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def _load_principal(session: Session, secret_hash: str) -> Principal:
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))
    if key is None:
        raise DeniedAuthentication("not_found")
    projects = session.scalars(
        select(Project)
        .where(Project.organization_id == key.organization_id)
        .order_by(Project.created_at)
    ).all()
    return Principal(
        access_key=key.access_key,
        organization_id=key.organization_id,
        project_ids=frozenset(p.id for p in projects),
        default_project_id=projects[0].id if projects else None,
    )


def create_organization(session: Session, name: str) -> Organization:
    org = Organization(name=name)
    session.add(org)
    session.flush()
    return org


def create_project(session: Session, organization_id: str, name: str) -> Project:
    if session.get(Organization, organization_id) is None:
        raise ValueError(f"organization {organization_id} does not exist")
    project = Project(organization_id=organization_id, name=name)
    session.add(project)
    session.flush()
    return project


def issue_api_key(session: Session, organization_id: str, description: str = "") -> IssuedKey:
    """Creates a key; the secret key is returned once and only its hash is kept."""
    if session.get(Organization, organization_id) is None:
        raise ValueError(f"organization {organization_id} does not exist")
    secret = new_secret_key()
    key = ApiKey(
        access_key=new_access_key(),
        secret_hash=hash_secret_key(secret),
        organization_id=organization_id,
        description=description,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key.access_key, secret, organization_id)
