"""Per-family DB-API clients for tests that write through an endpoint and check what survived."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import pymysql


@dataclass(frozen=True)
class EngineClient:
    engine: str  # engine version used for instances of this family
    connect_fn: Callable[..., Any]
    create_table: str

    def connect(self, host: str, port: int, user: str, password: str, timeout: float = 5) -> Any:
        return self.connect_fn(host, port, user, password, timeout)

    def create_probe_table(self, conn: Any) -> None:
        cur = conn.cursor()
        cur.execute(self.create_table)
        conn.commit()

    def insert_committed(self, conn: Any, row_id: int) -> None:
        """Returns only once the commit is acknowledged by the server."""
        cur = conn.cursor()
        cur.execute("INSERT INTO probe (id) VALUES (%s)", (row_id,))
        conn.commit()

    def probe_ids(self, conn: Any) -> set[int]:
        cur = conn.cursor()
        cur.execute("SELECT id FROM probe")
        return {row[0] for row in cur.fetchall()}

    def truncate_probe(self, host: str, port: int, user: str, password: str) -> None:
        with closing(self.connect(host, port, user, password)) as conn:
            conn.cursor().execute("DELETE FROM probe")
            conn.commit()

    def close_quietly(self, conn: Any) -> None:
        if conn is not None:
            with suppress(Exception):
                conn.close()


def _pg(host: str, port: int, user: str, password: str, timeout: float) -> Any:
    return psycopg.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        dbname="rdb",
        connect_timeout=max(1, int(timeout)),
    )


def _mysql(host: str, port: int, user: str, password: str, timeout: float) -> Any:
    """``timeout`` bounds the whole connection setup, as libpq's connect_timeout does for the
    PostgreSQL client: PyMySQL's connect_timeout covers the TCP connect only, and the server's
    greeting is read with read_timeout. Through the load balancer, a connection opened just before
    a failover is accepted, then waits for a greeting from the dead backend."""
    conn = pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        database="rdb",
        connect_timeout=max(1, int(timeout)),
        read_timeout=max(1, int(timeout)),
        write_timeout=30,
    )
    conn._read_timeout = 30  # statements (a commit waiting for the standby) may take longer
    return conn


MARIADB = EngineClient("MariaDB-10.11", _mysql, "CREATE TABLE probe (id BIGINT PRIMARY KEY)")
CLIENTS = {
    "postgresql": EngineClient("PostgreSQL-15", _pg, "CREATE TABLE probe (id bigint PRIMARY KEY)"),
    "mariadb": MARIADB,
}
