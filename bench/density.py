"""Density: many standalone instances running at once on this host.

Usage (after deploy/lab.sh): .venv/bin/python bench/density.py [--instances 50] [--parallel 4]

Creates ``--instances`` standalone db-dev-s instances (PostgreSQL 15 and 17, MariaDB 10.11 and
11.8 in turn), ``--parallel`` requests at a time, through the real API, worker and monitor;
then checks each answers a query through its endpoint, measures the API (GET one instance, 200
requests) while they all run, and reads the memory their containers use (cgroup files). All of
them are deleted at the end. The host's default memory overcommit (2x: 2 GB node limits fit
about 25 times in 24 GiB) is raised to 5 for the run (DBAAS_MEMORY_OVERCOMMIT), and the
organization's quotas with it: without, the 26th instance is ``out_of_stock``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()
os.environ["DBAAS_MEMORY_OVERCOMMIT"] = "5"
os.environ["DBAAS_QUOTA_INSTANCES"] = "200"
os.environ["DBAAS_QUOTA_MEMORY_BYTES"] = str(10**15)

import docker  # noqa: E402
import httpx  # noqa: E402

from bench.baselines import first_query  # noqa: E402
from tests.support import tenants  # noqa: E402

PASSWORD = "Bench-Passw0rd!"
ENGINES = ["PostgreSQL-15", "MariaDB-10.11", "PostgreSQL-17", "MariaDB-11.8"]


def create(api_url: str, tenant: tenants.Tenant, n: int) -> tuple[str, str, float]:
    """One instance, until ready; (id, engine, seconds)."""
    engine = ENGINES[n % len(ENGINES)]
    base = f"{api_url}/rdb/v1/regions/fr-par/instances"
    body = {"engine": engine, "name": f"dense-{n:03d}", "user_name": "bench",
            "password": PASSWORD, "node_type": "db-dev-s", "is_ha_cluster": False,
            "disable_backup": True, "volume_size": 0, "backup_same_region": False}  # fmt: skip
    started = time.monotonic()
    created = httpx.post(base, headers=tenant.headers, json=body, timeout=60)
    created.raise_for_status()
    instance_id = created.json()["id"]
    while True:
        got = httpx.get(f"{base}/{instance_id}", headers=tenant.headers, timeout=60).json()
        if got["status"] == "ready":
            return instance_id, engine, time.monotonic() - started
        if got["status"] == "error":
            raise RuntimeError(f"{engine} instance {n} failed")
        time.sleep(0.5)


def container_memory(client: docker.DockerClient) -> tuple[int, int]:
    """(bytes used by the bench's containers, how many), from their cgroup memory figures."""
    from workers import cgroups

    total = count = 0
    for container in client.containers.list(filters={"label": "dbaas.owner=dbaasb"}):
        reading = cgroups.usage(container.id)
        if reading is not None:
            total += reading.memory_bytes
            count += 1
    return total, count


def api_latency(api_url: str, tenant: tenants.Tenant, instance_id: str) -> tuple[float, float]:
    url = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}"
    times = []
    with httpx.Client(headers=tenant.headers, timeout=30) as client:
        for _ in range(200):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with control_plane() as (api_url, tenant):
        started = time.monotonic()
        with ThreadPoolExecutor(args.parallel) as pool:
            made = list(pool.map(lambda n: create(api_url, tenant, n), range(args.instances)))
        elapsed = time.monotonic() - started
        base = f"{api_url}/rdb/v1/regions/fr-par/instances"
        answering = 0
        for instance_id, engine, _ in made:
            got = httpx.get(f"{base}/{instance_id}", headers=tenant.headers).json()
            port = got["endpoints"][0]["port"]
            answering += first_query(engine, "127.0.0.1", port, "bench", PASSWORD, timeout=30)
        memory, containers = container_memory(docker.from_env())
        p50, p99 = api_latency(api_url, tenant, made[0][0])
        host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        durations = [seconds for _, _, seconds in made]
        print(
            f"\n{len(made)} instances ready in {elapsed:.0f} s ({args.parallel} at a time; "
            f"each {statistics.median(durations):.1f} s median, {max(durations):.1f} s worst)"
        )
        print(f"answering a query through their endpoints: {answering}/{len(made)}")
        print(
            f"memory used by their {containers} containers (nodes and proxies): "
            f"{memory / 2**30:.2f} GiB of the host's {host / 2**30:.1f} GiB "
            f"({memory / len(made) / 2**20:.0f} MiB an instance)"
        )
        print(f"API while they run, GET one instance: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
              f"(one client)")  # fmt: skip
        for instance_id, _, _ in made:
            httpx.delete(f"{base}/{instance_id}", headers=tenant.headers).raise_for_status()
        deadline = time.monotonic() + 600
        while httpx.get(base, headers=tenant.headers).json()["total_count"]:
            assert time.monotonic() < deadline, "instances were not deleted"
            time.sleep(2)


if __name__ == "__main__":
    main()
