"""Store connections: a connection cut while idle is replaced before a request uses it, and one
used a moment ago goes straight to its statement (no ping round trip per request); sessions in
UTC; list parameters as array text."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import column, select, table, text
from sqlalchemy.orm import sessionmaker

from controlplane.db import session as store
from controlplane.db.base import UtcDateTime
from controlplane.services.shown import text_array


@pytest.mark.parametrize("pool", ["transactions", "reads"])
def test_a_connection_cut_while_idle_is_replaced(
    postgres_server_url: str, monkeypatch: pytest.MonkeyPatch, pool: str
) -> None:
    from tests.support.stores import fresh_postgres

    url = fresh_postgres(postgres_server_url)
    engine = store.engine_for(url) if pool == "transactions" else store.read_engine_for(url)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        try:
            alive = real_ping(dbapi_connection)
        except Exception as exc:
            pings.append(exc)
            raise
        pings.append(alive)
        return alive

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as conn:
            first_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for _ in range(5):  # back to back: never pinged
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first_pid
        assert pings == []

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [first_pid])
        time.sleep(store.PING_AFTER_IDLE_SECONDS + 0.2)
        with engine.connect() as conn:  # no error: the dead connection was replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first_pid
        assert pings and pings[0] is not True  # the ping found it dead
    finally:
        engine.dispose()


def test_reads_run_outside_a_transaction(postgres_server_url: str) -> None:
    """A read session's statements each run on their own (no BEGIN before, no ROLLBACK after)
    and its connection goes back to the pool idle, not in a transaction."""
    from tests.support.stores import fresh_postgres

    url = fresh_postgres(postgres_server_url)
    engine = store.read_engine_for(url)
    try:
        sessions = sessionmaker(bind=engine)
        with sessions() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            first = session.execute(text("SELECT now()")).scalar_one()
            time.sleep(0.01)
            assert session.execute(text("SELECT now()")).scalar_one() > first  # two transactions
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as observer:
            state = observer.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
        assert state == ("idle",)
    finally:
        engine.dispose()


@pytest.mark.parametrize("pool", ["transactions", "reads"])
def test_timestamps_read_back_as_utc_whatever_the_servers_zone(
    postgres_server_url: str, pool: str
) -> None:
    """Sessions run in UTC (db/session.py PG_SESSION_OPTIONS), also on a database whose own
    zone is another: a stored instant reads back equal, in datetime.UTC."""
    from tests.support.stores import fresh_postgres

    url = fresh_postgres(postgres_server_url)
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET timezone = 'Asia/Kolkata'")
        admin.execute("CREATE TABLE stamps (at timestamptz)")
        admin.execute("INSERT INTO stamps VALUES ('2026-12-01 10:15:30.5+05:30')")
    engine = store.engine_for(url) if pool == "transactions" else store.read_engine_for(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar_one() == "UTC"
            at = conn.execute(select(column("at", UtcDateTime())).select_from(table("stamps")))
            assert at.scalar_one() == datetime(2026, 12, 1, 4, 45, 30, 500000, tzinfo=UTC)
            assert conn.execute(text("SELECT at FROM stamps")).scalar_one().tzinfo is UTC
    finally:
        engine.dispose()


def test_a_text_array_is_read_back_as_the_same_list(postgres_server_url: str) -> None:
    """The ids of a list page travel as one text parameter cast to an array (services/shown.py
    text_array): quotes, backslashes, separators and the word NULL come back unchanged."""
    from tests.support.stores import fresh_postgres

    values = ['a"b', "back\\slash", "x,y", "{braces}", " spaced ", "NULL", "", "élan", "1"]
    engine = store.engine_for(fresh_postgres(postgres_server_url))
    try:
        with engine.connect() as conn:
            read = conn.execute(
                text("SELECT CAST(:values AS text[])"), {"values": text_array(values)}
            ).scalar_one()
        assert read == values
    finally:
        engine.dispose()
