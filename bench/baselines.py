"""Raw baselines: the same image started by hand with ``docker run``, until the first query."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import docker
import psycopg
import pymysql

PASSWORD = "Bench-Passw0rd!"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_query(
    engine: str, host: str, port: int, user: str, password: str, timeout: float
) -> bool:
    """One query; True on success. With ``timeout`` > 0 retries until it passes or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if engine.startswith("PostgreSQL"):
                with psycopg.connect(
                    host=host,
                    port=port,
                    user=user,
                    password=password,
                    dbname="rdb" if user == "bench" else "postgres",
                    connect_timeout=2,
                ) as c:
                    c.execute("SELECT 1")
            else:
                conn = pymysql.connect(
                    host=host, port=port, user=user, password=password, connect_timeout=2
                )
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                conn.close()
            return True
        except (psycopg.Error, pymysql.Error, OSError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _raw_postgres(major: str) -> Callable[[], float]:
    def run() -> float:
        client = docker.from_env()
        port = _free_port()
        script = (
            f"printf %s '{PASSWORD}' > /tmp/pw && initdb -D /tmp/data --pwfile=/tmp/pw "
            "--auth-host=scram-sha-256 --auth-local=trust >/dev/null && "
            # initdb's pg_hba.conf admits only loopback; published ports arrive from the bridge
            "echo 'host all all all scram-sha-256' >> /tmp/data/pg_hba.conf && "
            "exec postgres -D /tmp/data -c listen_addresses='*'"
        )
        start = time.monotonic()
        c = client.containers.run(
            f"dbaas/postgresql:{major}",
            ["sh", "-c", script],
            detach=True,
            ports={"5432/tcp": ("127.0.0.1", port)},
            labels={"dbaas.owner": "dbaasb"},
        )
        try:
            assert first_query("PostgreSQL", "127.0.0.1", port, "postgres", PASSWORD, timeout=60)
            return time.monotonic() - start
        finally:
            c.remove(force=True)

    return run


def _raw_mariadb(version: str) -> Callable[[], float]:
    def run() -> float:
        client = docker.from_env()
        port = _free_port()
        script = (
            "mariadb-install-db --user=mysql --skip-test-db "
            "--auth-root-authentication-method=socket --datadir=/tmp/data >/dev/null && "
            "(mariadbd --datadir=/tmp/data --bind-address=0.0.0.0 &) && "
            "until mariadb-admin ping --silent 2>/dev/null; do sleep 0.05; done && "
            f"mariadb -e \"CREATE USER bench@'%' IDENTIFIED BY '{PASSWORD}'\" && sleep infinity"
        )
        start = time.monotonic()
        c = client.containers.run(
            f"dbaas/mariadb:{version}",
            ["sh", "-c", script],
            detach=True,
            user="mysql",
            ports={"3306/tcp": ("127.0.0.1", port)},
            labels={"dbaas.owner": "dbaasb"},
        )
        try:
            assert first_query("MariaDB", "127.0.0.1", port, "bench", PASSWORD, timeout=90)
            return time.monotonic() - start
        finally:
            c.remove(force=True)

    return run


BASELINES: dict[str, Callable[[], float]] = {
    "PostgreSQL-15": _raw_postgres("15"),
    "PostgreSQL-17": _raw_postgres("17"),
    "MariaDB-10.11": _raw_mariadb("10.11"),
    "MariaDB-11.8": _raw_mariadb("11.8"),
}
