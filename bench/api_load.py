"""API read paths at scale: GET one instance, a list page of 100, a refused create.

Usage (after deploy/lab.sh): .venv/bin/python bench/api_load.py [--rows 1000 10000]
    [--store sqlite postgresql] [--requests 3000] [--workers N]

For each metadata store and row count: a fresh store holding that many ``ready`` instance rows
(rows only, each with its load-balancer endpoint and node, as real ones have), the API started
as deploy/up.sh starts it (``dbaas api``: one process per CPU), then ApacheBench (``ab -k``,
keep-alive) with 1 and 32 concurrent clients on each request; prints req/s and p50/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import ROOT, isolate

STATE = isolate()

import httpx  # noqa: E402

from tests.support.processes import free_port  # noqa: E402

BIN = ROOT / ".venv" / "bin"
BASE = "/rdb/v1/regions/fr-par/instances"


def fill(url: str, rows: int) -> tuple[dict[str, str], str]:
    """A migrated store with ``rows`` instances of one tenant; (its headers, one instance id)."""
    os.environ["DATABASE_URL"] = url
    from controlplane import keyring
    from controlplane.cli import migrate
    from controlplane.db.models import Endpoint, Instance, Node
    from controlplane.db.session import session_scope
    from controlplane.settings import get_settings
    from tests.support.tenants import new_tenant

    get_settings.cache_clear()
    keyring.ensure_key_file()
    migrate(None)  # type: ignore[arg-type]
    tenant = new_tenant("load")
    for start in range(0, rows, 1000):
        with session_scope() as session:
            for i in range(start, min(rows, start + 1000)):
                row = Instance(
                    organization_id=tenant.organization_id, project_id=tenant.project_id,
                    region="fr-par", name=f"load-{i:05d}", engine="PostgreSQL-15",
                    node_type="db-dev-s", status="ready", tags=["load"], init_settings=[],
                    settings=[{"name": "max_connections", "value": "100"}],
                    volume_type="lssd", volume_size=5_000_000_000,
                    superuser_secret="-", replication_secret="-",
                )  # fmt: skip
                row.endpoints.append(Endpoint(kind="load_balancer", ip="127.0.0.1", port=20000))
                row.nodes.append(Node(name="n1", role="primary"))
                session.add(row)
    with session_scope() as session:
        one = session.query(Instance.id).filter(Instance.name == "load-00000").scalar()
    if url.startswith("postgresql"):  # as a store in use is: vacuumed, its statistics current
        from controlplane.db.session import engine_for  # (not autovacuum's run mid-measure)

        with engine_for(url).connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
    return tenant.headers, str(one)


@contextmanager
def api(url: str, workers: int | None) -> Iterator[str]:
    port = free_port()
    argv = [str(BIN / "dbaas"), "api", "--port", str(port)]
    if workers:
        argv += ["--workers", str(workers)]
    env = {**os.environ, "DATABASE_URL": url}
    with open(STATE / "api.log", "ab") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the API did not start"
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def ab(url: str, headers: dict[str, str], clients: int, requests: int,
       body: bytes | None = None) -> tuple[float, float, float]:  # fmt: skip
    """(requests/s, p50 ms, p99 ms); every answer must have the expected status."""
    argv = ["ab", "-q", "-k", "-c", str(clients), "-n", str(requests)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile() as payload:
        if body is not None:
            payload.write(body)
            payload.flush()
            argv += ["-p", payload.name, "-T", "application/json"]
        out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert failed == 0, out
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"\n\s+50%\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"\n\s+99%\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    return rate, p50, p99


def measure(url: str, rows: int, requests: int, workers: int | None) -> list[tuple[str, ...]]:
    headers, one = fill(url, rows)
    invalid = json.dumps({"name": "x", "engine": "NoSuchEngine-1", "node_type": "db-dev-s"})
    cases = [
        ("GET one", f"{BASE}/{one}", None, requests),
        ("list page of 100", f"{BASE}?page_size=100", None, max(200, requests // 10)),
        ("create refused (400)", BASE, invalid.encode(), requests),
    ]
    results = []
    with api(url, workers) as base:
        for name, path, body, count in cases:
            # ab's -n counts answers of any status; a refused create is the expected answer
            expected = 400 if body else 200
            probe = httpx.request("POST" if body else "GET", base + path, headers=headers,
                                  content=body, timeout=30)  # fmt: skip
            assert probe.status_code == expected, probe.text
            for clients in (1, 32):
                rate, p50, p99 = ab(base + path, headers, clients, count, body)
                results.append((name, str(clients), f"{rate:.0f}", f"{p50:.0f}", f"{p99:.0f}"))
                print(f"  {name}, {clients} clients: {rate:.0f} req/s, p50 {p50:.0f} ms, "
                      f"p99 {p99:.0f} ms", flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--store", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    table = []
    try:
        for store in args.store:
            for rows in args.rows:
                print(f"{store}, {rows} rows:", flush=True)
                with store_url(store) as url:
                    for line in measure(url, rows, args.requests, args.workers):
                        table.append((store, str(rows), *line))
    finally:
        if not os.environ.get("DBAAS_BENCH_KEEP_STATE"):
            shutil.rmtree(STATE, ignore_errors=True)
    print("\n| store | rows | request | clients | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for line in table:
        print("| " + " | ".join(line) + " |")


@contextmanager
def store_url(store: str) -> Iterator[str]:
    if store == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="dbaas-load-", dir=STATE)) / "dbaas.sqlite3"
        yield f"sqlite:///{path}"
        return
    from tests.support.stores import fresh_postgres, postgres_server

    with postgres_server(direct=True) as server:  # reached as a deployment reaches its store
        yield fresh_postgres(server)


if __name__ == "__main__":
    main()
