"""Failover benchmark: SIGKILL of the main node -> first successful write through the same endpoint.

Usage (after deploy/lab.sh): .venv/bin/python bench/failover.py [--runs 5] [--family postgresql]

For each engine family: one HA instance (real API, Celery worker and HA monitor processes), one
client writing through the load-balancer endpoint in a loop for the whole run, and ``--runs``
times: wait until the instance is synchronous HA again and writes flow, kill the main node,
measure until a write succeeds again. At the end: acknowledged commits missing (must be 0), and
the longest gap between two acknowledged commits outside the failovers (writes must flow while
the old main node is rebuilt as the new standby).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()

import docker  # noqa: E402
import httpx  # noqa: E402

from tests.e2e.clients import CLIENTS, EngineClient  # noqa: E402
from tests.support import tenants  # noqa: E402
from tests.support.ha import primary_container, wait_ha_again  # noqa: E402
from tests.support.writeloop import WriteLoop  # noqa: E402

PASSWORD = "Bench-Passw0rd!"


def create_ha(
    api_url: str, tenant: tenants.Tenant, engine: str, **volume: object
) -> tuple[str, int]:
    base = f"{api_url}/rdb/v1/regions/fr-par/instances"
    body = {
        "engine": engine,
        "name": "bench-ha",
        "user_name": "bench",
        "password": PASSWORD,
        "node_type": "db-dev-s",
        "is_ha_cluster": True,
        "disable_backup": True,
        "volume_size": 0,
        "backup_same_region": False,
        **volume,
    }
    instance = httpx.post(base, headers=tenant.headers, json=body).raise_for_status().json()
    while True:
        got = httpx.get(f"{base}/{instance['id']}", headers=tenant.headers).json()
        if got["status"] == "ready":
            return got["id"], got["endpoints"][0]["port"]
        if got["status"] == "error":
            raise RuntimeError(f"instance failed: {got}")
        time.sleep(0.5)


def measure(client: EngineClient, instance_id: str, port: int, runs: int) -> Result:
    """One writer for all runs: writes must flow between failovers too."""
    docker_client = docker.from_env()
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
        client.create_probe_table(conn)
    loop = WriteLoop(client, "127.0.0.1", port, "bench", PASSWORD)
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    outages: list[float] = []
    windows: list[tuple[float, float]] = []
    try:
        for _ in range(runs):
            wait_ha_again(instance_id)
            loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
            killed = time.monotonic()
            docker_client.containers.get(primary_container(instance_id)).kill()
            before = len(loop.acknowledged)
            outages.append(loop.wait_for_progress(after=before, timeout=120))
            windows.append((killed, time.monotonic()))
            print(f"  kill -> first write {outages[-1]:.2f} s", flush=True)
    finally:
        loop.stop.set()
        writer.join(10)
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
        lost = len(set(loop.acknowledged) - client.probe_ids(conn))
    stall = loop.longest_stall(excluding=windows)
    print(f"  acknowledged {len(loop.acknowledged)}, lost {lost}, longest stall between "
          f"failovers {stall:.2f} s", flush=True)  # fmt: skip
    return Result(outages, lost, stall, len(loop.acknowledged))


@dataclass(frozen=True)
class Result:
    outages: list[float]
    lost: int
    longest_stall: float
    acknowledged: int


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--family", action="append", choices=sorted(CLIENTS))
    args = parser.parse_args()
    rows = []
    with control_plane() as (api_url, tenant):
        for family in args.family or sorted(CLIENTS):
            client = CLIENTS[family]
            print(f"{client.engine}:", flush=True)
            instance_id, port = create_ha(api_url, tenant, client.engine)
            result = measure(client, instance_id, port, args.runs)
            rows.append((client.engine, result))
            wait_ha_again(instance_id)
            base = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}"
            httpx.delete(base, headers=tenant.headers).raise_for_status()
            while httpx.get(base, headers=tenant.headers).status_code != 404:
                time.sleep(0.5)
    print(
        "\n| engine | failovers | kill -> first write (median) | worst "
        "| longest stall between failovers | commits acknowledged | lost |"
    )
    print("|---|---|---|---|---|---|---|")
    for engine, r in rows:
        print(
            f"| {engine} | {len(r.outages)} | {statistics.median(r.outages):.2f} s "
            f"| {max(r.outages):.2f} s | {r.longest_stall:.2f} s | {r.acknowledged} | {r.lost} |"
        )


if __name__ == "__main__":
    main()
