"""Engine and session factories, one per database URL (never created at import time)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from controlplane.settings import get_settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Connections kept open per process: as many as requests run at once in the API's thread pool
# (beyond the pool, every request paid a connect, its pragmas and a close).
POOL_SIZE = 20
POOL_OVERFLOW = 20
# PostgreSQL: under half the connections each (and READ_POOL's 3), so that even two API
# processes per CPU (DBAAS_API_WORKERS) on a 2-core host hold at most 84 of the server's 100 (a
# request beyond waits for a connection instead of being refused).
PG_POOL = {"pool_size": POOL_SIZE // 2 - 1, "max_overflow": POOL_OVERFLOW // 2 - 1}


# The metadata store is small and read from memory: a random read costs about a sequential one.
# Under PostgreSQL's disk-era default (4) a list page's IN lookup of its 100 instances' endpoints
# scanned the whole table from 10,000 rows on (2.5 ms, growing with it) instead of the index.
# Sessions in UTC: psycopg then returns timestamps in datetime.timezone.utc, which UtcDateTime
# keeps as they are. In a named zone (the server's default, e.g. Etc/UTC), each of a list
# page's 300 timestamps went through a zoneinfo conversion (0.4 us each).
PG_SESSION_OPTIONS = "-c random_page_cost=1.1 -c timezone=UTC"


def json_column_loads(document: str | bytes) -> Any:
    """JSON columns (tags, settings, endpoint details) parsed by pydantic-core: a tenth of
    json.loads's time for these small documents (400 a list page: a tenth of its CPU on
    PostgreSQL, where psycopg's loader also sniffed each one's encoding). The same values; what
    it refuses and json accepts (an escaped lone surrogate) goes to json."""
    try:
        return pydantic_core.from_json(document)
    except ValueError:
        return json.loads(document)


JSON = {"json_deserializer": json_column_loads}


# A connection back from a pause may have been cut (the server restarted, a proxy timed it out):
# it is pinged before use. One used a moment ago is not: under load, a ping per request was one
# round trip in two of GET one's.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections idle ``PING_AFTER_IDLE_SECONDS`` or
    more: a dead one is replaced before the request uses it (the pool retries the checkout)."""

    def used_now(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:  # e.g. terminated by the server
            raise DisconnectionError(f"the connection was cut while idle: {exc}") from exc
        if not alive:
            raise DisconnectionError("the connection was closed while idle")

    event.listen(engine, "connect", used_now)
    event.listen(engine, "checkin", used_now)
    event.listen(engine, "checkout", ping_if_idle)


@cache
def engine_for(url: str) -> Engine:
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # an in-memory database is one connection's own
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        engine = create_engine(url, connect_args={"options": PG_SESSION_OPTIONS}, **JSON, **PG_POOL)
    else:
        engine = create_engine(url, **JSON, **pool)
    _ping_when_idle(engine)
    return engine


@cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def session_factory() -> sessionmaker[Session]:
    return _factory(get_settings().database_url)


# The API's hot reads run on its event loop and give their connection back before they await
# (api/routes/instances.py): one connection a process, two spare.
READ_POOL = {"pool_size": 1, "max_overflow": 2}


@cache
def read_engine_for(url: str) -> Engine:
    """The pool of read_session_factory's sessions (SQLite: the one engine; sqlite3 begins no
    transaction before a SELECT anyway)."""
    if not url.startswith("postgresql"):
        return engine_for(url)
    # A pool of its own whose connections are in autocommit from the start: switching a shared
    # connection's mode at each checkout and back at each return, and the rollback on return,
    # cost as much CPU as a GET one's query (nothing to roll back outside a transaction).
    engine = create_engine(
        url,
        connect_args={"options": PG_SESSION_OPTIONS},
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        **JSON,
        **READ_POOL,
    )
    _ping_when_idle(engine)
    return engine


@cache
def _read_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=read_engine_for(url), expire_on_commit=False)


# What a read runs its statements on: a Session, or, on the API's hottest reads, a bare pooled
# connection (checking one out costs a quarter of a Session's open and close: 19 against 80 us).
Reader = Session | Connection


def dialect_name(reader: Reader) -> str:
    return reader.dialect.name if isinstance(reader, Connection) else reader.get_bind().dialect.name


def read_connection() -> Connection:
    """A connection of read_session_factory's pool, for a read that needs no ORM object; use it
    as a context manager (it goes back to the pool at the end)."""
    return read_engine_for(get_settings().database_url).connect()


def read_session_factory() -> sessionmaker[Session]:
    """Sessions for requests that only read: no transaction around their statements. On
    PostgreSQL that spares a BEGIN and a ROLLBACK round trip per request (GET one: 4 round trips
    became 2), and each statement still sees what was committed when it started, as under the
    READ COMMITTED default. Never write through one: nothing would roll back."""
    return _read_factory(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any exception."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
