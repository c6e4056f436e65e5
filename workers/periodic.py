"""Periodic checks that compare what runs with what we claim."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker


def reconcile_all(sessions: sessionmaker[Session]) -> None:
    """Filled in by the instance lifecycle (see workers/health.py)."""
