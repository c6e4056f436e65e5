"""Engine images as workers observed them (the exact engine version inside each build)."""

from __future__ import annotations

import time

from sqlalchemy import select

from controlplane.db.models import EngineImage
from controlplane.db.session import Reader

TTL_SECONDS = 30.0  # images change when an operator rebuilds them: rarely
_memo: tuple[float, dict[str, str]] | None = None


def current_engine_versions(reader: Reader) -> dict[str, str]:
    """Tag -> the engine version of the build the tag points at (read at most every 30 s)."""
    global _memo
    now = time.monotonic()
    if _memo is None or _memo[0] < now:
        rows = reader.execute(
            select(EngineImage.tag, EngineImage.engine_version).where(EngineImage.current)
        ).all()
        _memo = (now + TTL_SECONDS, {tag: version for tag, version in rows})
    return _memo[1]
