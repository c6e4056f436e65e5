"""Fresh, migrated metadata stores of both kinds, for tests that must hold on SQLite and
PostgreSQL alike (a real PostgreSQL server, from our own image, in a labelled container)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.session import engine_for
from controlplane.settings import PROJECT_ROOT
from tests.e2e import helpers
from tests.e2e.test_images import pg_connect, start_postgres

PG_IMAGE = "dbaas/postgresql:15"


@contextmanager
def postgres_server(*, direct: bool = False) -> Iterator[str]:
    """A PostgreSQL server for the session; yields its URL without a database name: its port
    published on 127.0.0.1, or with ``direct`` its address on its bridge network (as a store on
    a network or host of its own is reached: Docker's userland proxy, which relays each
    connection to a published loopback port, cost benchmarks 0.08 ms of CPU per round trip)."""
    lab = helpers.Lab(helpers.docker_client())
    password = secrets.token_hex(12)
    port = helpers.free_port()
    try:
        container = start_postgres(  # survives a Docker daemon restart (the fault tests make one)
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
        address = f"127.0.0.1:{port}"
        if direct:
            container.reload()
            networks = container.attrs["NetworkSettings"]["Networks"]
            address = f"{next(iter(networks.values()))['IPAddress']}:5432"
        yield f"postgresql+psycopg://postgres:{password}@{address}"
    finally:
        lab.cleanup()


def fresh_postgres(server_url: str) -> str:
    """A new empty database on the server."""
    name = f"t{secrets.token_hex(6)}"
    credentials, address = server_url.split("://", 1)[1].split("@")
    password = credentials.split(":")[1]
    host, port = address.split(":")
    with pg_connect(int(port), password, host) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


def fresh_sqlite(directory: Path) -> str:
    return f"sqlite:///{directory / f'{secrets.token_hex(6)}.sqlite3'}"


@contextmanager
def counting(url: str) -> Iterator[list[str]]:
    """The SQL statements run through the store's engine meanwhile (BEGIN and COMMIT aside)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = engine_for(url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def migrated(url: str) -> sessionmaker[Session]:
    """The schema as the migrations make it; sessions as the service opens them."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)
