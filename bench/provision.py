"""Provisioning benchmark: create request -> first SQL query, next to a raw baseline.

Usage (after deploy/lab.sh): .venv/bin/python bench/provision.py [--runs 5] [--engine NAME]

The control plane runs as real processes (API + Celery worker) on a temporary metadata store.
The baseline, measured in the same run, is what a person would do by hand with the same image:
``docker run`` + initdb + server start + the first query through a published port.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()

from bench.baselines import BASELINES, first_query  # noqa: E402
from tests.support import tenants  # noqa: E402

PASSWORD = "Bench-Passw0rd!"


def measure_service(api_url: str, tenant: tenants.Tenant, engine: str) -> float:
    import httpx

    body = {
        "engine": engine,
        "name": "bench",
        "user_name": "bench",
        "password": PASSWORD,
        "node_type": "db-dev-s",
        "is_ha_cluster": False,
        "disable_backup": True,
        "volume_size": 0,
        "backup_same_region": False,
    }
    base = f"{api_url}/rdb/v1/regions/fr-par/instances"
    start = time.monotonic()
    instance = httpx.post(base, headers=tenant.headers, json=body).raise_for_status().json()
    while True:
        got = httpx.get(f"{base}/{instance['id']}", headers=tenant.headers).json()
        if got["status"] == "error":
            raise RuntimeError(f"instance failed: {got}")
        if got["endpoints"]:
            endpoint = got["endpoints"][0]
            if first_query(engine, "127.0.0.1", endpoint["port"], "bench", PASSWORD, timeout=0):
                elapsed = time.monotonic() - start
                break
        time.sleep(0.05)
    httpx.delete(f"{base}/{instance['id']}", headers=tenant.headers).raise_for_status()
    while httpx.get(f"{base}/{instance['id']}", headers=tenant.headers).status_code != 404:
        time.sleep(0.2)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", action="append", help="engine version name (repeatable)")
    args = parser.parse_args()
    engines = args.engine or list(BASELINES)
    rows = []
    with control_plane() as (api_url, tenant):
        for engine in engines:
            service = [measure_service(api_url, tenant, engine) for _ in range(args.runs)]
            raw = [BASELINES[engine]() for _ in range(args.runs)]
            rows.append((engine, statistics.median(service), statistics.median(raw)))
            print(f"{engine}: service {service}  raw {raw}", flush=True)
    print(
        "\n| engine | create -> first query (median) | raw docker run baseline (median) | ratio |"
    )
    print("|---|---|---|---|")
    for engine, svc, raw in rows:
        print(f"| {engine} | {svc:.2f} s | {raw:.2f} s | {svc / raw:.2f}x |")


if __name__ == "__main__":
    main()
