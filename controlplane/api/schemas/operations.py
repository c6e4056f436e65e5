"""Operations of an instance (an extension of the RDB API: what happened to it, and why)."""

from __future__ import annotations

from typing import Any

from controlplane.api.schemas.common import Timestamp, WireResponse


class OperationRecord(WireResponse):
    id: str
    kind: str  # provision_instance, failover, degrade, heal_instance, install_tls, ...
    resource_type: str
    resource_id: str
    status: str  # pending | running | succeeded | failed
    error: str | None = None
    details: dict[str, Any]
    attempts: int
    created_at: Timestamp
    finished_at: Timestamp | None = None


class ListOperationsResponse(WireResponse):
    operations: list[OperationRecord]
    total_count: int
