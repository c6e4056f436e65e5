"""The migrations build the schema on an empty SQLite and an empty PostgreSQL, and undo it."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import sessionmaker

from controlplane.db import models  # noqa: F401  (registers the tables)
from controlplane.db.base import Base
from controlplane.db.models import Instance, InstanceTally
from controlplane.services import tenancy
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


def test_tallies_count_the_instances_already_there(metadata_store: str) -> None:
    """Migration 0015 on a store in use: the tallies start from its rows, then follow them."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", metadata_store)
    command.upgrade(config, "0014")
    sessions = sessionmaker(bind=create_engine(metadata_store), expire_on_commit=False)
    with sessions.begin() as session:
        org = tenancy.create_organization(session, "before")
        projects = [tenancy.create_project(session, org.id, name).id for name in ("a", "b")]
        for i in range(5):
            session.add(Instance(
                organization_id=org.id, project_id=projects[i % 2], region="fr-par",
                name=f"i{i}", engine="PostgreSQL-15", node_type="db-dev-s", status="ready",
                tags=[], settings=[], init_settings=[], volume_type="lssd",
                volume_size=5_000_000_000, superuser_secret="-", replication_secret="-",
            ))  # fmt: skip
    command.upgrade(config, "head")
    with sessions.begin() as session:
        session.add(Instance(
            organization_id=org.id, project_id=projects[0], region="fr-par", name="after",
            engine="PostgreSQL-15", node_type="db-dev-s", status="ready", tags=[], settings=[],
            init_settings=[], volume_type="lssd", volume_size=5_000_000_000,
            superuser_secret="-", replication_secret="-",
        ))  # fmt: skip
    with sessions() as session:
        tallies = session.execute(select(InstanceTally.project_id, InstanceTally.instances))
        assert {project: n for project, n in tallies} == {projects[0]: 4, projects[1]: 2}
    sessions.kw["bind"].dispose()
