"""Instance logs on the wire (scaleway-rdb-api.md 3.9): InstanceLog and the list responses."""

from __future__ import annotations

from enum import StrEnum

from controlplane.api.schemas.common import Timestamp, WireRequest, WireResponse


class InstanceLogStatus(StrEnum):
    UNKNOWN = "unknown"
    READY = "ready"
    CREATING = "creating"
    ERROR = "error"


class InstanceLog(WireResponse):
    id: str
    status: InstanceLogStatus
    node_name: str
    region: str
    download_url: str | None = None
    expires_at: Timestamp | None = None
    created_at: Timestamp | None = None


class InstanceLogsResponse(WireResponse):
    """PrepareInstanceLogsResponse and ListInstanceLogsResponse (no total_count)."""

    instance_logs: list[InstanceLog]


class InstanceLogDetail(WireResponse):
    log_name: str
    size: int


class ListInstanceLogsDetailsResponse(WireResponse):
    details: list[InstanceLogDetail]


class PrepareInstanceLogsRequest(WireRequest):
    start_date: Timestamp | None = None
    end_date: Timestamp | None = None


class PurgeInstanceLogsRequest(WireRequest):
    log_name: str | None = None
