"""The migrations build the schema on an empty SQLite and an empty PostgreSQL, and undo it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from controlplane.db import models  # noqa: F401  (registers the tables)
from controlplane.db.base import Base
from controlplane.settings import PROJECT_ROOT
from tests.e2e import helpers
from tests.e2e.helpers import Lab
from tests.e2e.test_images import start_postgres

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


def test_migrations_on_empty_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    lab = Lab(helpers.docker_client())
    password = secrets.token_hex(12)
    port = helpers.free_port()
    try:
        start_postgres(
            lab, "dbaas/postgresql:15", password, ports={"5432/tcp": ("127.0.0.1", port)}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    password=password,
                    dbname="postgres",
                    connect_timeout=2,
                ).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.3)
        yield f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        lab.cleanup()


def test_migrations_on_empty_postgresql(postgres_url: str) -> None:
    _round_trip(postgres_url)
