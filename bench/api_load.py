"""The API at scale: GET one instance, a list page of 100, a refused create, a rename.

Usage (after deploy/lab.sh): .venv/bin/python bench/api_load.py [--rows 1000 10000]
    [--store sqlite postgresql] [--seconds 5] [--workers N] [--only NAME]

For each metadata store and row count: a fresh store holding that many ``ready`` instance rows
(rows only, each with its load-balancer endpoint and node, as real ones have), the API started
as deploy/up.sh starts it (``dbaas api``), then wrk (HTTP/1.1, connections kept alive, as
the SDKs and Terraform keep theirs) with 1 and 32 concurrent clients on each request for
``--seconds``; prints req/s, p50/p99, and the CPU each request cost the API's processes and,
for PostgreSQL, the store's server (its container's cgroup): on a shared host both count.
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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import ROOT, isolate

STATE = isolate()

import httpx  # noqa: E402

from bench import cpu_use  # noqa: E402
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


@dataclass(frozen=True)
class Served:
    base: str  # the API's URL
    group: int  # the process group of its processes


@contextmanager
def api(url: str, workers: int | None) -> Iterator[Served]:
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
        yield Served(base, proc.pid)  # (a session of its own: its process group)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    paths: tuple[str, ...]  # several: each request picks one at random
    body: str | None = None
    status: int = 200  # every answer's


# wrk (HTTP/1.1, connections kept alive) scripted to print its summary in plain numbers. (ab
# speaks HTTP/1.0, whose keep-alive uvicorn does not offer: every ab request had been a new TCP
# connection, as no real client's is.)
WRK_SCRIPT = """
wrk.method = "%s"
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
local paths = {%s}
if #paths > 1 then
  request = function() return wrk.format(nil, paths[math.random(#paths)]) end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load(base: str, headers: dict[str, str], case: Case, clients: int,
         seconds: int) -> tuple[int, float, float, float]:  # fmt: skip
    """(requests, requests/s, p50 ms, p99 ms) of ``clients`` connections sending requests back
    to back; every answer must have the case's status."""
    body = json.dumps(case.body) if case.body is not None else "nil"
    paths = ", ".join(json.dumps(path) for path in case.paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % (case.method, body, paths))
        script.flush()
        # --timeout: a slow answer is measured in the p99, not dropped as an error (wrk's 2 s)
        argv = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds}s",
                "--timeout", "30s", "-s", script.name]  # fmt: skip
        for name, value in headers.items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(base + case.paths[0])
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    assert found, out
    requests, micros, not_2xx, failed, p50, p99 = map(int, found.groups())
    assert failed == 0, out
    assert not_2xx == (0 if case.status < 300 else requests), out
    return requests, requests / (micros / 1e6), p50 / 1000, p99 / 1000


def measure(
    url: str, rows: int, seconds: int, workers: int | None, only: str | None
) -> list[tuple[str, ...]]:
    headers, one = fill(url, rows)
    invalid = json.dumps({"name": "x", "engine": "NoSuchEngine-1", "node_type": "db-dev-s"})
    server = cpu_use.store_container(url) if url.startswith("postgresql") else None
    results: list[tuple[str, ...]] = []
    with api(url, workers) as served:
        base = served.base
        page = httpx.get(f"{base}{BASE}?page_size=100", headers=headers, timeout=30).json()
        hundred = tuple(f"{BASE}/{i['id']}" for i in page["instances"])
        cases = [
            Case("GET one", "GET", (f"{BASE}/{one}",)),
            Case("list page of 100", "GET", (f"{BASE}?page_size=100",)),
            Case("create refused (400)", "POST", (BASE,), invalid, 400),
            # a write: each request renames one of 100 instances (a row lock, a commit)
            Case("rename (PATCH) one of 100", "PATCH", hundred, json.dumps({"name": "renamed"})),
        ]
        for case in cases:
            if only and only.lower() not in case.name.lower():
                continue
            probe = httpx.request(case.method, base + case.paths[0], headers=headers,
                                  content=case.body, timeout=30)  # fmt: skip
            assert probe.status_code == case.status, probe.text
            load(base, headers, case, 32, 2)  # warm-up, not counted (pools, caches)
            for clients in (1, 32):
                api_cpu = cpu_use.group_seconds(served.group)
                store_cpu = cpu_use.container_seconds(server)
                requests, rate, p50, p99 = load(base, headers, case, clients, seconds)
                api_ms = (cpu_use.group_seconds(served.group) - api_cpu) * 1000 / requests
                store_ms = (cpu_use.container_seconds(server) - store_cpu) * 1000 / requests
                store = f"{store_ms:.2f}" if server else "-"
                results.append((case.name, str(clients), f"{rate:.0f}", f"{p50:.1f}",
                                f"{p99:.1f}", f"{api_ms:.2f}", store))  # fmt: skip
                print(f"  {case.name}, {clients} clients: {rate:.0f} req/s, p50 {p50:.1f} ms, "
                      f"p99 {p99:.1f} ms, CPU a request: API {api_ms:.2f} ms, store {store} ms",
                      flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--store", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--seconds", type=int, default=5, help="per request and client count")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--only", help="the requests whose name holds this text (e.g. rename)")
    args = parser.parse_args()
    table = []
    try:
        for store in args.store:
            for rows in args.rows:
                print(f"{store}, {rows} rows:", flush=True)
                with store_url(store) as url:
                    for line in measure(url, rows, args.seconds, args.workers, args.only):
                        table.append((store, str(rows), *line))
    finally:
        if not os.environ.get("DBAAS_BENCH_KEEP_STATE"):
            shutil.rmtree(STATE, ignore_errors=True)
    print("\n| store | rows | request | clients | req/s | p50 ms | p99 ms | API CPU ms/req |"
          " store CPU ms/req |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
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
