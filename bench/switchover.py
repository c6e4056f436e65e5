"""Planned changes of an HA instance under writes: how long writes pause.

Usage (after deploy/lab.sh): .venv/bin/python bench/switchover.py [--runs 3] [--family mariadb]

For each engine family: one HA instance (real API, worker and monitor processes) and one client
writing through the load-balancer endpoint in a loop the whole time. ``--runs`` times each: a
restart (rolling: standby, planned switchover, old main node) and a node type change (db-dev-s
and db-dev-m in turn, rolled the same way). The pause of one operation is the longest gap
between two acknowledged commits while it runs (the switchover: drain, fence, promote, route).
At the end every acknowledged commit is checked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()

import httpx  # noqa: E402

from bench.failover import PASSWORD, create_ha  # noqa: E402
from tests.e2e.clients import CLIENTS, EngineClient  # noqa: E402
from tests.support import tenants  # noqa: E402
from tests.support.ha import wait_ha_again  # noqa: E402
from tests.support.writeloop import WriteLoop  # noqa: E402


def _operate(
    api_url: str, tenant: tenants.Tenant, instance_id: str, loop: WriteLoop, path: str,
    body: dict[str, object],
) -> float:  # fmt: skip
    """Start the operation, wait until the instance is synchronous HA again; the pause."""
    base = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}"
    wait_ha_again(instance_id)
    loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
    started = time.monotonic()
    httpx.post(f"{base}/{path}", headers=tenant.headers, json=body).raise_for_status()
    time.sleep(1)
    while httpx.get(base, headers=tenant.headers).json()["status"] != "ready":
        time.sleep(0.5)
    wait_ha_again(instance_id)
    ended = time.monotonic()
    inside = [
        later - earlier
        for earlier, later in zip(loop.acknowledged_at, loop.acknowledged_at[1:], strict=False)
        if later > started and earlier < ended
    ]
    return max(inside, default=ended - started)


def measure(
    api_url: str, tenant: tenants.Tenant, client: EngineClient, runs: int
) -> dict[str, list[float]]:
    # On a block volume: node types move both ways (a local volume's size is the node type's).
    volume = {"volume_type": "sbs_5k", "volume_size": 5_000_000_000}
    instance_id, port = create_ha(api_url, tenant, client.engine, **volume)
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
        client.create_probe_table(conn)
    loop = WriteLoop(client, "127.0.0.1", port, "bench", PASSWORD)
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    pauses: dict[str, list[float]] = {"restart": [], "node type change": []}
    try:
        for run in range(runs):
            pause = _operate(api_url, tenant, instance_id, loop, "restart", {})
            pauses["restart"].append(pause)
            print(f"  restart: writes paused {pause:.2f} s", flush=True)
            node_type = "db-dev-m" if run % 2 == 0 else "db-dev-s"
            pause = _operate(api_url, tenant, instance_id, loop, "upgrade",
                             {"node_type": node_type})  # fmt: skip
            pauses["node type change"].append(pause)
            print(f"  node type -> {node_type}: writes paused {pause:.2f} s", flush=True)
    finally:
        loop.stop.set()
        writer.join(10)
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
        lost = len(set(loop.acknowledged) - client.probe_ids(conn))
    print(f"  acknowledged {len(loop.acknowledged)}, lost {lost}", flush=True)
    pauses["lost"] = [float(lost)]
    base = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}"
    httpx.delete(base, headers=tenant.headers).raise_for_status()
    while httpx.get(base, headers=tenant.headers).status_code != 404:
        time.sleep(0.5)
    return pauses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--family", action="append", choices=sorted(CLIENTS))
    args = parser.parse_args()
    rows = []
    with control_plane() as (api_url, tenant):
        for family in args.family or sorted(CLIENTS):
            client = CLIENTS[family]
            print(f"{client.engine}:", flush=True)
            rows.append((client.engine, measure(api_url, tenant, client, args.runs)))
    print(
        "\n| engine | operation | runs | write pause (median) | worst | acknowledged commits lost |"
    )
    print("|---|---|---|---|---|---|")
    for engine, pauses in rows:
        lost = int(pauses["lost"][0])
        for operation in ("restart", "node type change"):
            values = pauses[operation]
            print(f"| {engine} | {operation} | {len(values)} | {statistics.median(values):.2f} s "
                  f"| {max(values):.2f} s | {lost} |")  # fmt: skip


if __name__ == "__main__":
    main()
