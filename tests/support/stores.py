"""Fresh, migrated metadata stores of both kinds, for tests that must hold on SQLite and
PostgreSQL alike (a real PostgreSQL server, from our own image, in a labelled container)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.session import engine_for
from controlplane.settings import PROJECT_ROOT
from tests.e2e import helpers
from tests.e2e.test_images import pg_connect, start_postgres

PG_IMAGE = "dbaas/postgresql:15"


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session; yields its URL without a database name."""
    lab = helpers.Lab(helpers.docker_client())
    password = secrets.token_hex(12)
    port = helpers.free_port()
    try:
        start_postgres(  # survives a Docker daemon restart (the fault tests make one)
            lab,
            PG_IMAGE,
            password,
            ports={"5432/tcp": ("127.0.0.1", port)},
            restart_policy={"Name": "unless-stopped"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                pg_connect(port, password).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.3)
        yield f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}"
    finally:
        lab.cleanup()


def fresh_postgres(server_url: str) -> str:
    """A new empty database on the server."""
    name = f"t{secrets.token_hex(6)}"
    credentials, address = server_url.split("://", 1)[1].split("@")
    password, port = credentials.split(":")[1], int(address.split(":")[1])
    with pg_connect(port, password) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


def fresh_sqlite(directory: Path) -> str:
    return f"sqlite:///{directory / f'{secrets.token_hex(6)}.sqlite3'}"


def migrated(url: str) -> sessionmaker[Session]:
    """The schema as the migrations make it; sessions as the service opens them."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)
