"""Several hosts (issue 19): failover when the main node's whole host is cut off, and drain time.

Usage (after deploy/lab.sh, as root): .venv/bin/python bench/swarm_failover.py [--runs 3]
    [--family postgresql]

Brings up the three-host swarm lab (deploy/swarm_lab.py; removed at the end), runs a control
plane in swarm mode (real API, Celery worker and HA monitor processes) and, per engine family,
one HA instance with a client writing through its endpoint for the whole run. ``--runs`` times:
wait until the instance is synchronous HA again, cut the main node's host off (its link and its
daemon), measure until a write succeeds again through the same endpoint (detection included),
bring the host back (the old main node is rebuilt there as the standby). Then ``dbaas
drain-host`` on the main node's host, timed. At the end: acknowledged commits missing (must be 0).
"""

from __future__ import annotations

import argparse
import os
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
from sqlalchemy import select  # noqa: E402

from bench.failover import PASSWORD, create_ha  # noqa: E402
from controlplane.db.models import Node  # noqa: E402
from controlplane.db.session import session_factory  # noqa: E402
from controlplane.settings import get_settings  # noqa: E402
from deploy import swarm_lab  # noqa: E402
from tests.e2e.clients import CLIENTS, EngineClient  # noqa: E402
from tests.support import tenants  # noqa: E402
from tests.support.ha import wait_ha_again  # noqa: E402
from tests.support.writeloop import WriteLoop  # noqa: E402
from workers import drain, image_sync, swarm_hosts  # noqa: E402

IMAGES = ("dbaas/postgresql:15", "dbaas/mariadb:10.11", "dbaas/haproxy:2.6")


@dataclass(frozen=True)
class Result:
    outages: list[float]
    drain_seconds: float
    lost: int
    acknowledged: int


def create_swarm_ha(api_url: str, tenant: tenants.Tenant, engine: str) -> tuple[str, str, int]:
    """A ready HA instance on lssd volumes (named volumes on each node's own host); its id and
    its endpoint's address and port (the load balancer's host)."""
    instance_id, port = create_ha(
        api_url, tenant, engine, volume_type="lssd", volume_size=5_000_000_000
    )
    got = httpx.get(
        f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}", headers=tenant.headers
    ).raise_for_status()
    return instance_id, got.json()["endpoints"][0]["ip"], port


def main_host(instance_id: str) -> str:
    with session_factory()() as session:
        host = session.scalar(
            select(Node.host).where(Node.instance_id == instance_id, Node.role == "primary")
        )
    assert host is not None
    return host


def measure(client: EngineClient, instance_id: str, ip: str, port: int, runs: int) -> Result:
    with closing(client.connect(ip, port, "bench", PASSWORD, timeout=10)) as conn:
        client.create_probe_table(conn)
    loop = WriteLoop(client, ip, port, "bench", PASSWORD)
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    outages: list[float] = []
    try:
        for _ in range(runs):
            wait_ha_again(instance_id, timeout=300)
            loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
            host = main_host(instance_id)
            swarm_lab.cut_off(host)
            cut_at = time.monotonic()
            try:
                # a commit acknowledged just before the cut may be recorded a moment after it;
                # after the cut only the promoted standby acknowledges (about a second later)
                time.sleep(0.2)
                before = len(loop.acknowledged)
                loop.wait_for_progress(after=before, timeout=120)
                while len(loop.acknowledged_at) <= before:  # (appended just after the id)
                    time.sleep(0.001)
                outages.append(loop.acknowledged_at[before] - cut_at)
            finally:
                swarm_lab.cut_off(host, heal=True)
            print(f"  {host} cut off -> first write {outages[-1]:.2f} s", flush=True)
        wait_ha_again(instance_id, timeout=300)
        host = main_host(instance_id)
        started = drain.start(host)
        try:
            ended = drain.wait(started)
        finally:
            swarm_hosts.set_availability(get_settings().swarm_manager, host, "active")
        status, drain_seconds = ended[instance_id]
        assert status == "succeeded", ended
        print(f"  drain of {host}: {drain_seconds:.1f} s", flush=True)
        loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
    finally:
        loop.stop.set()
        writer.join(10)
    with closing(client.connect(ip, port, "bench", PASSWORD, timeout=10)) as conn:
        lost = len(set(loop.acknowledged) - client.probe_ids(conn))
    print(f"  acknowledged {len(loop.acknowledged)}, lost {lost}", flush=True)
    return Result(outages, drain_seconds, lost, len(loop.acknowledged))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--family", action="append", choices=sorted(CLIENTS))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the swarm lab needs root (network namespaces, dockerd)")
    rows = []
    swarm_lab.down(swarm_lab.DEFAULT_DIR)
    lab = swarm_lab.up(3, swarm_lab.DEFAULT_DIR)
    try:
        source = docker.from_env(timeout=300)
        image_sync.sync(source, {h.name: lab.client(h.name) for h in lab.hosts}, IMAGES)
        # every manager: the control plane outlives any one host (the processes inherit it)
        os.environ["DBAAS_SWARM_MANAGER"] = ",".join(h.socket for h in lab.hosts)
        get_settings.cache_clear()
        with control_plane() as (api_url, tenant):
            for family in args.family or sorted(CLIENTS):
                client = CLIENTS[family]
                print(f"{client.engine}:", flush=True)
                instance_id, ip, port = create_swarm_ha(api_url, tenant, client.engine)
                rows.append((client.engine, measure(client, instance_id, ip, port, args.runs)))
                base = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}"
                httpx.delete(base, headers=tenant.headers).raise_for_status()
                while httpx.get(base, headers=tenant.headers).status_code != 404:
                    time.sleep(0.5)
    finally:
        swarm_lab.down(swarm_lab.DEFAULT_DIR)
    print(
        "\n| engine | host cut-offs | cut-off -> first write (median) | worst "
        "| drain of the main's host | commits acknowledged | lost |"
    )
    print("|---|---|---|---|---|---|---|")
    for engine, r in rows:
        print(
            f"| {engine} | {len(r.outages)} | {statistics.median(r.outages):.2f} s "
            f"| {max(r.outages):.2f} s | {r.drain_seconds:.1f} s | {r.acknowledged} | {r.lost} |"
        )


if __name__ == "__main__":
    main()
