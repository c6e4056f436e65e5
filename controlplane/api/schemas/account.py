"""Account API v3 projects (``GET /account/v3/projects``), the few keys a client reads."""

from __future__ import annotations

from controlplane.api.schemas.common import Timestamp, WireResponse


class AccountProject(WireResponse):
    id: str
    name: str
    organization_id: str
    created_at: Timestamp
    updated_at: Timestamp
    description: str = ""


class ListProjectsResponse(WireResponse):
    total_count: int
    projects: list[AccountProject]
