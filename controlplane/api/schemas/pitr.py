"""Point-in-time recovery (an extension: the RDB API has no such endpoint)."""

from __future__ import annotations

from datetime import datetime

from controlplane.api.schemas.common import WireRequest


class RestoreToTimeRequest(WireRequest):
    name: str  # the new instance's
    target_time: datetime  # RFC 3339; without an offset, UTC
