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


def measure_service(
    api_url: str, tenant: tenants.Tenant, engine: str
) -> tuple[float, dict[str, float]]:
    """Seconds from the create request to the first query, and the steps the job recorded
    (with ``queued``: from the request's commit to the job's start)."""
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
    steps = job_steps(instance["id"])
    httpx.delete(f"{base}/{instance['id']}", headers=tenant.headers).raise_for_status()
    while httpx.get(f"{base}/{instance['id']}", headers=tenant.headers).status_code != 404:
        time.sleep(0.2)
    return elapsed, steps


def job_steps(instance_id: str) -> dict[str, float]:
    from controlplane.db.models import Operation
    from controlplane.db.session import session_factory

    with session_factory()() as session:
        op = (
            session.query(Operation)
            .filter(Operation.resource_id == instance_id, Operation.kind == "provision_instance")
            .one()
        )
        steps = dict(op.params.get("steps") or {})
        total = sum(steps.values())
        if op.finished_at is not None:
            job = (op.finished_at - op.created_at).total_seconds()
            steps = {"queued (request to job start)": round(job - total, 3), **steps}
        return steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", action="append", help="engine version name (repeatable)")
    args = parser.parse_args()
    engines = args.engine or list(BASELINES)
    rows = []
    breakdown: dict[str, dict[str, list[float]]] = {}
    with control_plane() as (api_url, tenant):
        for engine in engines:
            # One of each first, not counted (cold caches, the worker's first job), then the
            # two alternate so that whatever else the host does weighs on both alike.
            measure_service(api_url, tenant, engine)
            BASELINES[engine]()
            measured, raw = [], []
            for _ in range(args.runs):
                measured.append(measure_service(api_url, tenant, engine))
                raw.append(BASELINES[engine]())
            service = [elapsed for elapsed, _ in measured]
            rows.append((engine, statistics.median(service), statistics.median(raw)))
            for _, steps in measured:
                for step, seconds in steps.items():
                    breakdown.setdefault(step, {}).setdefault(engine, []).append(seconds)
            print(f"{engine}: service {service}  raw {raw}", flush=True)
    print(
        "\n| engine | create -> first query (median) | raw docker run baseline (median) | ratio |"
    )
    print("|---|---|---|---|")
    for engine, svc, raw in rows:
        print(f"| {engine} | {svc:.2f} s | {raw:.2f} s | {svc / raw:.2f}x |")
    print("\nSteps of the provisioning job (median seconds):\n")
    print("| step | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    for step, by_engine in breakdown.items():
        cells = [f"{statistics.median(by_engine[e]):.2f}" if e in by_engine else "-"
                 for e in engines]  # fmt: skip
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
