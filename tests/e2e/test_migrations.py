"""The migrations build the schema on an empty SQLite and an empty PostgreSQL, and undo it."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from controlplane.db import models  # noqa: F401  (registers the tables)
from controlplane.db.base import Base
from controlplane.settings import PROJECT_ROOT

pytestmark = pytest.mark.docker


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    assert _tables(url) == set()
    command.upgrade(config, "head")
    assert _tables(url) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert _tables(url) == set()
    command.upgrade(config, "head")
    assert _tables(url) == set(Base.metadata.tables)


def test_migrations_on_an_empty_store(metadata_store: str) -> None:
    """SQLite and PostgreSQL (a real server, tests/support/stores.py)."""
    _round_trip(metadata_store)
