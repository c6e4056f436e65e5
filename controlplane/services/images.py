"""Engine images as workers observed them (the exact engine version inside each build)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.db.models import EngineImage

_MEMO = "engine_versions_by_tag"


def current_engine_versions(session: Session) -> dict[str, str]:
    """Tag -> the engine version of the build the tag points at (once per session)."""
    memo = session.info.get(_MEMO)
    if memo is None:
        rows = session.execute(
            select(EngineImage.tag, EngineImage.engine_version).where(EngineImage.current)
        ).all()
        memo = session.info[_MEMO] = {tag: version for tag, version in rows}
    return memo
