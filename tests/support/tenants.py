"""Organizations, projects and keys made through the real tenancy service."""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.db.session import session_scope
from controlplane.services import tenancy


@dataclass(frozen=True)
class Tenant:
    organization_id: str
    project_id: str
    access_key: str
    secret_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.secret_key}


def new_tenant(name: str) -> Tenant:
    with session_scope() as session:
        org = tenancy.create_organization(session, name)
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "tests")
    return Tenant(org.id, project.id, key.access_key, key.secret_key)
