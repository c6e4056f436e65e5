"""Faults: every part of the service dies at a bad moment, and it keeps its promises.

Each test injects one fault into the real running service (API, Celery worker, Celery beat,
HA monitor, Redis, the Docker daemon, the whole host) with real instances, a client writing to
an HA instance where it matters, and then checks: every acknowledged commit is there, every
instance is ``ready`` again (synchronous HA again), and Docker, the host and the metadata store
agree, with nothing orphaned and no operation left open (``tests/support/inventory.py``).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from scaleway.rdb.v1 import RdbV1API
from sqlalchemy import select

from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory
from tests.e2e.clients import CLIENTS
from tests.support import inventory
from tests.support.ha import primary_container, wait_ha_again
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete, ids, writing
from tests.support.processes import ROOT, Service
from tests.support.tenants import Tenant

FAILOVERS = int(os.environ.get("DBAAS_FAULT_FAILOVERS", "20"))
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def pg_ha(rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS["postgresql"], "fault-pg-ha", ha=True)
    yield live
    delete(rdb, live.instance_id)


@pytest.fixture(scope="module")
def maria_ha(rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS["mariadb"], "fault-maria-ha", ha=True)
    yield live
    delete(rdb, live.instance_id)


@pytest.fixture(scope="module")
def pg_block(rdb: RdbV1API) -> Iterator[Live]:
    """Standalone on a loop-mounted block volume, with a read replica."""
    live = create(
        rdb, CLIENTS["postgresql"], "fault-pg-block", ha=False,
        volume_type="sbs_5k", volume_size=5_000_000_000,
    )  # fmt: skip
    replica = rdb.create_read_replica(instance_id=live.instance_id)
    rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
    yield live
    delete(rdb, live.instance_id)


def _settled(rdb: RdbV1API, docker_client: docker.DockerClient, *lives: Live) -> None:
    """Every instance back: ready (HA ones synchronous), answering through its endpoint, no
    job open on it; then nothing orphaned, nothing open anywhere. Right after a fault the rows
    may still say "ready" before the service noticed: only all of it together counts."""
    deadline = time.monotonic() + 300
    for live in lives:
        while not _recovered(rdb, live):
            assert time.monotonic() < deadline, f"{live.instance_id} never came back"
            time.sleep(1)
    while found := inventory.orphans(docker_client):
        assert time.monotonic() < deadline, found
        time.sleep(1)


def _recovered(rdb: RdbV1API, live: Live) -> bool:
    with session_factory()() as session:
        row = session.get(Instance, live.instance_id)
        assert row is not None
        settled = row.status == "ready" and row.sync_mode in ("sync", "none")
        busy = session.scalar(
            select(Operation.id)
            .where(Operation.resource_id == live.instance_id)
            .where(Operation.status.in_(("pending", "running")))
            .limit(1)
        )
    if not settled or busy is not None:
        return False
    try:
        ids(live)
    except Exception:
        return False
    return rdb.get_instance(instance_id=live.instance_id).status == "ready"


def _operation(instance_id: str, kind: str, status: str) -> bool:
    with session_factory()() as session:
        query = select(Operation.id).where(
            Operation.resource_id == instance_id, Operation.kind == kind, Operation.status == status
        )
        return session.scalar(query.limit(1)) is not None


def _until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


# --- failovers --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["postgresql", "mariadb"])
def test_failovers_in_a_row(
    family: str, rdb: RdbV1API, docker_client: docker.DockerClient, pg_ha: Live, maria_ha: Live
) -> None:
    """SIGKILL of the main node, FAILOVERS times, one writer throughout: no acknowledged commit
    lost, and writes flow between failovers (no stall longer than a failover)."""
    live = pg_ha if family == "postgresql" else maria_ha
    outages: list[float] = []
    windows: list[tuple[float, float]] = []
    with writing(live) as loop:
        for _ in range(FAILOVERS):
            wait_ha_again(live.instance_id)
            loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
            killed = time.monotonic()
            docker_client.containers.get(primary_container(live.instance_id)).kill()
            outages.append(loop.wait_for_progress(after=len(loop.acknowledged), timeout=60))
            windows.append((killed, time.monotonic()))
    stall = loop.longest_stall(excluding=windows)
    print(f"{family}: {FAILOVERS} failovers, worst {max(outages):.2f} s, stall {stall:.2f} s, "
          f"{len(loop.acknowledged)} commits acknowledged, 0 lost")  # fmt: skip
    assert stall <= max(outages), (stall, outages)
    _settled(rdb, docker_client, live)


# --- the control plane's own processes --------------------------------------------------------


def test_api_killed_mid_requests(
    api_service: Service, api_url: str, tenant: Tenant, rdb: RdbV1API,
    docker_client: docker.DockerClient, worker: Service,
) -> None:  # fmt: skip
    """Creates in flight when the API dies: those it answered exist, none is half-made, and
    what was committed but never published is published by the sweeper."""
    body = {
        "engine": "PostgreSQL-15", "user_name": USER, "password": PASSWORD,
        "node_type": "db-dev-s", "volume_type": "lssd", "project_id": tenant.project_id,
    }  # fmt: skip
    answered: list[str] = []

    def post_create(i: int) -> None:
        try:
            response = httpx.post(
                f"{api_url}/rdb/v1/regions/fr-par/instances",
                headers=tenant.headers, json={**body, "name": f"api-kill-{i}"}, timeout=30,
            )  # fmt: skip
            if response.status_code == 200:
                answered.append(response.json()["id"])
        except httpx.HTTPError:
            pass  # the API died under this request

    threads = [threading.Thread(target=post_create, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.15)
    api_service.kill()
    api_service.start()
    for thread in threads:
        thread.join(60)
    with session_factory()() as session:
        made = list(session.scalars(select(Instance.id).where(Instance.name.like("api-kill-%"))))
    assert set(answered) <= set(made)
    lives = [Live(i, 0, CLIENTS["postgresql"]) for i in made]
    for live in lives:
        assert rdb.wait_for_instance(instance_id=live.instance_id, options=wait()).status == "ready"
    for live in lives:
        delete(rdb, live.instance_id)
    _settled(rdb, docker_client)


def test_worker_killed_while_rebuilding_after_failover(
    pg_ha: Live, worker: Service, rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    with writing(pg_ha):
        wait_ha_again(pg_ha.instance_id)
        docker_client.containers.get(primary_container(pg_ha.instance_id)).kill()
        _until(
            lambda: _operation(pg_ha.instance_id, "heal_instance", "running"),
            "the standby rebuild never started",
        )
        worker.kill()  # SIGKILL while it copies the old main node back as a standby
        worker.start()
        wait_ha_again(pg_ha.instance_id)
    _settled(rdb, docker_client, pg_ha)


def test_worker_killed_mid_upgrade(
    pg_ha: Live, worker: Service, rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    """SIGKILL while a node type change rolls (the standby re-created, no switchover yet):
    the sweeper hands the operation to the restarted worker, which carries on from the rows."""
    from controlplane.catalog import find_node_type, load_catalog
    from workers import topology

    wait_ha_again(pg_ha.instance_id)
    wanted = topology.node_limits(find_node_type(load_catalog(), "db-dev-m"))  # type: ignore[arg-type]
    nodes = {"label": [f"dbaas.instance={pg_ha.instance_id}", "dbaas.node"]}

    def some_node_changed() -> bool:
        return any(c.attrs["HostConfig"]["Memory"] == wanted.mem_bytes
                   for c in docker_client.containers.list(filters=nodes))  # fmt: skip

    with writing(pg_ha):
        rdb.upgrade_instance(instance_id=pg_ha.instance_id, node_type="db-dev-m")
        _until(some_node_changed, "the upgrade never started", timeout=120)
        worker.kill()
        worker.start()
        _settled(rdb, docker_client, pg_ha)
    for container in docker_client.containers.list(filters=nodes):
        assert container.attrs["HostConfig"]["Memory"] == wanted.mem_bytes, container.name
    assert rdb.get_instance(instance_id=pg_ha.instance_id).node_type == "db-dev-m"


def test_monitor_killed_mid_failover(
    maria_ha: Live, monitor: Service, rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    """Killed after fencing the old main node, before promoting: the next monitor finishes the
    job, and the interrupted operation is closed."""
    monitor.stop()
    monitor.env["DBAAS_FAULT_PAUSE"] = "after_fence:30"
    monitor.start()
    try:
        with writing(maria_ha):
            wait_ha_again(maria_ha.instance_id)
            container = primary_container(maria_ha.instance_id)
            docker_client.containers.get(container).kill()
            _until(
                lambda: _operation(maria_ha.instance_id, "failover", "running"),
                "the failover never started",
            )
            time.sleep(1)  # inside the pause: fenced, not promoted
            monitor.kill()
            del monitor.env["DBAAS_FAULT_PAUSE"]
            monitor.start()
            wait_ha_again(maria_ha.instance_id, timeout=240)
    finally:
        monitor.env.pop("DBAAS_FAULT_PAUSE", None)
        if not monitor.running:
            monitor.start()
    _until(
        lambda: _operation(maria_ha.instance_id, "failover", "failed"),
        "the interrupted failover was never closed",
        timeout=120,
    )
    _settled(rdb, docker_client, maria_ha)


def test_beat_killed(beat: Service, worker: Service) -> None:
    """No sweeper while beat is dead: an operation committed but never published waits; it
    runs once beat is back."""
    from controlplane.services import operations

    beat.kill()
    try:
        with session_factory()() as session:
            op = operations.record(session, "ping", "probe", "beat-fault")
            session.commit()
            op_id = op.id
        time.sleep(8)
        with session_factory()() as session:
            assert operations.get(session, op_id).status == "pending"
    finally:
        beat.start()

    def done() -> bool:
        with session_factory()() as session:
            return operations.get(session, op_id).status == "succeeded"

    _until(done, "the operation never ran after beat came back", timeout=60)


# --- the infrastructure -----------------------------------------------------------------------


def _lab(command: str) -> None:
    """``deploy/lab.sh restart-docker|restart-redis``: as a host would, on what lab.sh runs."""
    env = dict(os.environ)
    env.pop("DBAAS_STATE_DIR")  # lab.sh logs the engine into the service's own state dir
    if env.get("REDIS_URL", "").startswith("redis://127.0.0.1:6379/"):
        env.pop("REDIS_URL")  # ours: lab.sh may restart it
    subprocess.run([str(ROOT / "deploy" / "lab.sh"), command], check=True, env=env, timeout=180)


@pytest.mark.host_wide
def test_redis_restarted_and_flushed(
    rdb: RdbV1API, docker_client: docker.DockerClient, pg_block: Live, worker: Service
) -> None:
    """Queue and locks gone, mid-provisioning: the sweeper republishes what was lost."""
    import redis

    if os.environ.get("DBAAS_TEST_REDIS_URL"):
        pytest.skip("Redis is not the one deploy/lab.sh runs")
    created = rdb.create_instance(
        engine="MariaDB-10.11", user_name=USER, password=PASSWORD, node_type="db-dev-s",
        is_ha_cluster=False, disable_backup=True, volume_size=0, backup_same_region=False,
        name="fault-redis",
    )  # fmt: skip
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    _lab("restart-redis")
    live = Live(created.id, 0, CLIENTS["mariadb"])
    assert rdb.wait_for_instance(instance_id=live.instance_id, options=wait()).status == "ready"
    delete(rdb, live.instance_id)
    _settled(rdb, docker_client, pg_block)


@pytest.mark.host_wide
def test_docker_daemon_restarted(
    rdb: RdbV1API, docker_client: docker.DockerClient, pg_ha: Live, maria_ha: Live,
    pg_block: Live,
) -> None:  # fmt: skip
    if os.environ.get("DOCKER_HOST"):
        pytest.skip("the Docker engine is not the one deploy/lab.sh runs")
    with writing(pg_ha):
        _lab("restart-docker")
        wait_ha_again(pg_ha.instance_id, timeout=240)
    _settled(rdb, docker_client, pg_ha, maria_ha, pg_block)


def test_whole_host_restarted(
    rdb: RdbV1API, docker_client: docker.DockerClient, pg_ha: Live, maria_ha: Live,
    pg_block: Live, api_service: Service, worker: Service, beat: Service, monitor: Service,
) -> None:  # fmt: skip
    """Every process and container stopped, the loop volumes unmounted (a reboot), then the
    service started again: every instance comes back from its volumes."""
    before = {live.instance_id: ids(live) for live in (pg_ha, maria_ha, pg_block)}
    services = (monitor, beat, worker, api_service)
    for service in services:
        service.stop()
    owner = {"label": [f"dbaas.owner={os.environ['DBAAS_RESOURCE_PREFIX']}"]}
    for container in docker_client.containers.list(filters=owner):
        container.stop(timeout=20)
    volumes = Path(os.environ["DBAAS_STATE_DIR"]) / "volumes"
    for mount in [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]:
        if mount.startswith(f"{volumes}/"):
            subprocess.run(["umount", mount], check=True)
    for service in reversed(services):
        service.start()
    _settled(rdb, docker_client, pg_ha, maria_ha, pg_block)
    for live in (pg_ha, maria_ha, pg_block):
        assert before[live.instance_id] <= ids(live)
