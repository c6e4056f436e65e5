"""Instances across several Docker hosts (issue 19), end to end: a control plane in swarm mode
(its own API, worker and store, on the lab's manager) makes an HA instance through the official
SDK; its main node, standby and load balancer run on three different hosts, which each host's
own daemon shows; writes go through the endpoint at the load balancer's host address; deleting
the instance leaves nothing on any host."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from scaleway import Client, WaitForOptions
from scaleway.rdb.v1 import (
    RdbV1API,
    ReadReplicaEndpointSpec,
    ReadReplicaEndpointSpecDirectAccess,
)
from sqlalchemy.orm import Session, sessionmaker

from agents.base import SUPERUSER, Connection
from agents.registry import agent_for
from controlplane import secrets
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.models import Instance
from controlplane.services import tenancy
from deploy import swarm_lab
from tests.e2e.clients import CLIENTS, EngineClient
from tests.support import processes
from tests.support.stores import fresh_sqlite, migrated
from tests.support.writeloop import WriteLoop
from workers import image_sync

pytestmark = [pytest.mark.docker, pytest.mark.swarm]
PREFIX = f"{os.environ.get('DBAAS_TEST_PREFIX', 'dbaast')}sw"
PASSWORD = "Sw4rm-Admin!pw"
WAIT = WaitForOptions(timeout=300, min_delay=1, max_delay=2)


def _redis_url() -> str:
    """The session's Redis, another database (this control plane's queue and locks)."""
    base, _, db = os.environ["REDIS_URL"].rpartition("/")
    return f"{base}/{(int(db) + 15) % 16}"


@dataclass(frozen=True)
class SwarmControlPlane:
    rdb: RdbV1API
    sessions: sessionmaker[Session]  # its store
    env: dict[str, str]  # what its processes run with


@pytest.fixture(scope="module")
def swarm(
    lab: swarm_lab.Lab, synced: list[image_sync.Copy], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmControlPlane]:
    """A second control plane, in swarm mode: API, worker, HA monitor, a store of its own."""
    url = fresh_sqlite(Path(tmp_path_factory.mktemp("swarm-store")))
    sessions = migrated(url)
    with sessions() as session:
        org = tenancy.create_organization(session, "swarm")
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "swarm tests")
        session.commit()
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": _redis_url(),
        "DBAAS_SWARM_MANAGER": ",".join(h.socket for h in lab.hosts),  # all managers
        "DBAAS_RESOURCE_PREFIX": PREFIX,
        "DBAAS_QUEUE_NAME": f"{PREFIX}-queue",
    }
    worker_argv = [str(processes.BIN / "celery"), "-A", "workers.app", "worker", "--loglevel",
                   "INFO", "--concurrency", "4", "--pool", "threads", "-n", "swarm@%h"]  # fmt: skip
    with (
        processes.running(processes.api(env, "swarm-api")) as api,
        processes.running(processes.Service("swarm-worker", worker_argv, env)),
        processes.running(
            processes.Service("swarm-monitor", [str(processes.BIN / "dbaas"), "monitor"], env)
        ),
    ):
        client = Client(
            access_key=key.access_key,
            secret_key=key.secret_key,
            api_url=processes.url_of(api),
            default_region="fr-par",
            default_project_id=project.id,
        )
        yield SwarmControlPlane(RdbV1API(client), sessions, env)


def _where(lab: swarm_lab.Lab, instance_id: str) -> dict[str, str]:
    """Container name -> the host whose own daemon runs it."""
    label = {"label": [f"dbaas.instance={instance_id}"]}
    return {
        c.name: host.name
        for host in lab.hosts
        for c in lab.client(host.name).containers.list(all=True, filters=label)
    }


def _roles(swarm: SwarmControlPlane, instance_id: str) -> dict[str, str]:
    """Role -> node name, as the store says once the instance is ready and HA again."""
    deadline = time.monotonic() + 240
    while True:
        with swarm.sessions() as session:
            row = session.get(Instance, instance_id)
            assert row is not None
            if row.status == "ready" and row.sync_mode == "sync":
                return {n.role: n.name for n in row.nodes}
        assert time.monotonic() < deadline, "the instance never became HA again"
        time.sleep(0.5)


def _sync_standbys(lab: swarm_lab.Lab, swarm: SwarmControlPlane, instance_id: str) -> list[str]:
    """The synchronous followers the main node itself reports, asked as the control plane
    asks it (the engine's agent): at its host's address, on the port published there for the
    control plane, as the engine superuser."""
    with swarm.sessions() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        nodes = list(row.nodes)
        main = next(n for n in nodes if n.role == "primary")
        password = secrets.decrypt(row.superuser_secret)
        version = find_engine_version(load_catalog(), row.engine)
        assert version is not None
        family = version.family.value
    addresses = {h.name: h.address for h in lab.hosts}
    routes = []  # the peers as the engine knows them (instance network) -> where we reach them
    for node in nodes:
        container = lab.client(node.host or "").containers.get(_container(instance_id, node.name))
        overlay = container.attrs["NetworkSettings"]["Networks"][f"{PREFIX}-{instance_id}"]
        routes.append((overlay["IPAddress"], addresses[node.host or ""], node.admin_port or 0))
    states = agent_for(family).replication_state(
        Connection(
            addresses[main.host or ""], main.admin_port or 0, SUPERUSER, password, tuple(routes)
        )
    )
    return sorted(node for node, state in states.items() if state.synchronous)


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def engine(request: pytest.FixtureRequest) -> EngineClient:
    return CLIENTS[request.param]


@pytest.fixture(scope="module")
def ha_instance(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, engine: EngineClient
) -> Iterator[str]:
    created = swarm.rdb.create_instance(
        engine=engine.engine,
        user_name="swarm_admin",
        password=PASSWORD,
        node_type="db-dev-s",
        is_ha_cluster=True,
        name="across-hosts",
        volume_type="lssd",
        volume_size=5_000_000_000,
        disable_backup=True,
        backup_same_region=False,
    )
    try:
        yield created.id
    finally:
        swarm.rdb.delete_instance(instance_id=created.id)
        _wait_gone(lab, created.id)


def _wait_gone(lab: swarm_lab.Lab, instance_id: str, timeout: float = 120) -> None:
    """Nothing of the instance on any host, its overlay network gone from the swarm."""
    deadline = time.monotonic() + timeout
    while _where(lab, instance_id):
        assert time.monotonic() < deadline, _where(lab, instance_id)
        time.sleep(1)
    overlay = f"{PREFIX}-{instance_id}"
    while lab.client("h1").networks.list(names=[overlay]):
        assert time.monotonic() < deadline, "the instance network stayed"
        time.sleep(1)


@contextmanager
def _writing(engine: EngineClient, endpoint: Any, first_id: int) -> Iterator[WriteLoop]:
    """A client writing through the endpoint (already flowing) until the block ends."""
    loop = WriteLoop(
        engine, str(endpoint.ip), endpoint.port, "swarm_admin", PASSWORD, first_id=first_id
    )
    writer = threading.Thread(target=loop.run, daemon=True)
    writer.start()
    try:
        loop.wait_for_progress(after=20, timeout=30)
        yield loop
    finally:
        loop.stop.set()
        writer.join(10)


def _assert_all_kept(engine: EngineClient, endpoint: Any, loop: WriteLoop) -> None:
    """Every commit the client saw acknowledged is there."""
    conn = engine.connect(str(endpoint.ip), endpoint.port, "swarm_admin", PASSWORD, timeout=10)
    try:
        assert set(loop.acknowledged) <= engine.probe_ids(conn)
    finally:
        engine.close_quietly(conn)


@contextmanager
def _reactivated(swarm: SwarmControlPlane, host: str) -> Iterator[None]:
    """``host`` takes nodes again when the block ends (after a drain), even on a failure."""
    try:
        yield
    finally:
        subprocess.run(
            [str(processes.BIN / "dbaas"), "activate-host", host],
            env={**os.environ, **swarm.env},
            check=True,
            timeout=60,
        )


def _container(instance_id: str, node: str) -> str:
    return f"{PREFIX}-{instance_id}-{node}"


def test_ha_instance_spans_three_hosts(
    lab: swarm_lab.Lab,
    swarm: SwarmControlPlane,
    ha_instance: str,
    engine: EngineClient,
    tmp_path: Path,
) -> None:
    instance = swarm.rdb.wait_for_instance(instance_id=ha_instance, options=WAIT)
    assert instance.status == "ready", instance
    roles = _roles(swarm, ha_instance)
    where = _where(lab, ha_instance)
    main = where[_container(ha_instance, roles["primary"])]
    standby = where[_container(ha_instance, roles["standby"])]
    balancer = where[_container(ha_instance, "lb")]
    assert len({main, standby, balancer}) == 3, where
    zones = {h.name: h.zone for h in lab.hosts}
    assert zones[main] != zones[standby]
    assert _sync_standbys(lab, swarm, ha_instance) == [roles["standby"]]
    endpoint = instance.endpoints[0]
    assert endpoint.ip == next(h.address for h in lab.hosts if h.name == balancer)
    conn = engine.connect(str(endpoint.ip), endpoint.port, "swarm_admin", PASSWORD, timeout=10)
    engine.create_probe_table(conn)
    engine.close_quietly(conn)
    # the certificate names the endpoint's host address: a client verifying it accepts it
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(
        base64.b64decode(swarm.rdb.get_instance_certificate(instance_id=ha_instance).content)
    )
    with closing(_verified(engine, str(endpoint.ip), endpoint.port, ca_file)) as verified:
        verified.cursor().execute("SELECT 1")


def _verified(engine: EngineClient, host: str, port: int, ca_file: Path) -> Any:
    """A TLS session that checks the server's certificate and its name (the address)."""
    if engine is CLIENTS["postgresql"]:
        return psycopg.connect(
            host=host, port=port, user="swarm_admin", password=PASSWORD, dbname="rdb",
            connect_timeout=10, sslmode="verify-full", sslrootcert=str(ca_file),
        )  # fmt: skip
    return pymysql.connect(
        host=host, port=port, user="swarm_admin", password=PASSWORD, database="rdb",
        connect_timeout=10, ssl_ca=str(ca_file), ssl_verify_cert=True, ssl_verify_identity=True,
    )  # fmt: skip


def test_main_host_cut_off_standby_takes_over(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, ha_instance: str, engine: EngineClient
) -> None:
    """The main node's host loses its link: writes resume through the same endpoint on the
    standby's host, every acknowledged commit is there; once the link is back the old main
    node is rebuilt on its host as the new standby, synchronous again."""
    instance = swarm.rdb.wait_for_instance(instance_id=ha_instance, options=WAIT)
    roles = _roles(swarm, ha_instance)
    where = _where(lab, ha_instance)
    old_main, old_standby = roles["primary"], roles["standby"]
    cut = where[_container(ha_instance, old_main)]
    endpoint = instance.endpoints[0]
    with _writing(engine, endpoint, first_id=1000) as loop:
        before = len(loop.acknowledged)
        swarm_lab.cut_off(cut)
        try:
            cut_at = time.monotonic()
            loop.wait_for_progress(after=before + 5, timeout=60)
            resumed = next(t for t in loop.acknowledged_at[before:] if t > cut_at) - cut_at
            print(f"writes resumed {resumed:.1f} s after the main node's host was cut off")
            assert _roles_now(swarm, ha_instance)["primary"] == old_standby
            # (a commit acknowledged just before the cut may be recorded a moment after it:
            # none can be acknowledged by the new main node within half a second of the cut,
            # detection alone takes two probes a half-second apart)
            times = loop.acknowledged_at[:]  # (the writer appends to both lists meanwhile)
            ids = loop.acknowledged[: len(times)]
            acked_after_cut = {i for i, t in zip(ids, times, strict=True) if t > cut_at + 0.5}
            # the old main node still runs on its isolated host, and holds none of them
            on_old_main = _probe_ids_on_isolated_node(lab, swarm, ha_instance, old_main, engine)
            assert on_old_main and not on_old_main & acked_after_cut
        finally:
            swarm_lab.cut_off(cut, heal=True)
        after_heal = len(loop.acknowledged)
        loop.wait_for_progress(after=after_heal + 20, timeout=60)
    roles = _roles(swarm, ha_instance)
    assert roles == {"primary": old_standby, "standby": old_main}
    where = _where(lab, ha_instance)
    assert where[_container(ha_instance, old_main)] == cut  # rebuilt where its volume is
    assert _sync_standbys(lab, swarm, ha_instance) == [old_main]
    _assert_all_kept(engine, endpoint, loop)


def _probe_ids_on_isolated_node(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, instance_id: str, node: str, engine: EngineClient
) -> set[int]:
    """The probe rows of a node on a cut-off host, read from inside that host's network
    namespace (where its published port still answers), as the customer's admin."""
    with swarm.sessions() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        found = next(n for n in row.nodes if n.name == node)
    host = next(h for h in lab.hosts if h.name == found.host)
    family = next(name for name, client in CLIENTS.items() if client == engine)
    script = (
        "import json, sys; from tests.e2e.clients import CLIENTS; "
        f"c = CLIENTS[{family!r}]; conn = c.connect({host.address!r}, {found.admin_port}, "
        f"'swarm_admin', {PASSWORD!r}, timeout=10); print(json.dumps(sorted(c.probe_ids(conn))))"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", swarm_lab.netns(host.name), sys.executable, "-c", script],
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def _roles_now(swarm: SwarmControlPlane, instance_id: str) -> dict[str, str]:
    with swarm.sessions() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return {n.role: n.name for n in row.nodes}


def test_drain_main_host_moves_everything_losing_nothing(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, ha_instance: str, engine: EngineClient
) -> None:
    """``dbaas drain-host`` on the main node's host while a client writes: the main node
    hands over by a switchover and is rebuilt elsewhere; nothing of the instance stays there;
    every acknowledged commit is kept."""
    instance = swarm.rdb.wait_for_instance(instance_id=ha_instance, options=WAIT)
    roles = _roles(swarm, ha_instance)
    drained = _where(lab, ha_instance)[_container(ha_instance, roles["primary"])]
    endpoint = instance.endpoints[0]
    with _writing(engine, endpoint, first_id=10**6) as loop, _reactivated(swarm, drained):
        done = subprocess.run(
            [str(processes.BIN / "dbaas"), "drain-host", drained, "--wait"],
            env={**os.environ, **swarm.env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(done.stdout)
        assert done.returncode == 0, done.stdout + done.stderr
        after = len(loop.acknowledged)
        loop.wait_for_progress(after=after + 20, timeout=60)
    roles_after = _roles(swarm, ha_instance)
    assert roles_after == {"primary": roles["standby"], "standby": roles["primary"]}
    where = _where(lab, ha_instance)
    assert drained not in where.values(), where
    assert _sync_standbys(lab, swarm, ha_instance) == [roles["primary"]]
    _assert_all_kept(engine, endpoint, loop)


def test_standby_host_daemon_restart_brings_it_back(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, ha_instance: str, engine: EngineClient
) -> None:
    """The standby's host restarts its Docker daemon (its containers stop with it): the main
    node keeps acknowledging commits (it stops waiting for the standby), and once the daemon
    is back the standby is on that host again, synchronous, nothing lost."""
    instance = swarm.rdb.wait_for_instance(instance_id=ha_instance, options=WAIT)
    roles = _roles(swarm, ha_instance)
    standby_name = _container(ha_instance, roles["standby"])
    restarted = _where(lab, ha_instance)[standby_name]
    endpoint = instance.endpoints[0]
    with _writing(engine, endpoint, first_id=2 * 10**6) as loop:
        swarm_lab.restart_daemon(restarted)
        loop.wait_for_progress(after=len(loop.acknowledged) + 20, timeout=60)
        assert _roles(swarm, ha_instance) == roles
    assert lab.client(restarted).containers.get(standby_name).status == "running"
    assert _sync_standbys(lab, swarm, ha_instance) == [roles["standby"]]
    _assert_all_kept(engine, endpoint, loop)


def test_read_replica_on_its_own_host(
    lab: swarm_lab.Lab, swarm: SwarmControlPlane, ha_instance: str, engine: EngineClient
) -> None:
    """A read replica goes to a host without a node of the instance; its direct-access endpoint
    is at that host's address and serves what the main node committed; deleted, nothing of it
    stays on any host."""
    instance = swarm.rdb.wait_for_instance(instance_id=ha_instance, options=WAIT)
    _roles(swarm, ha_instance)
    main_endpoint = instance.endpoints[0]
    conn = engine.connect(str(main_endpoint.ip), main_endpoint.port, "swarm_admin", PASSWORD)
    try:
        engine.insert_committed(conn, 3 * 10**6)
    finally:
        engine.close_quietly(conn)
    replica = swarm.rdb.create_read_replica(
        instance_id=ha_instance,
        endpoint_spec=[
            ReadReplicaEndpointSpec(direct_access=ReadReplicaEndpointSpecDirectAccess())
        ],
    )
    replica = swarm.rdb.wait_for_read_replica(read_replica_id=replica.id, options=WAIT)
    assert replica.status == "ready", replica
    (endpoint,) = replica.endpoints
    with swarm.sessions() as session:
        row = session.get(Instance, ha_instance)
        assert row is not None
        node = next(r.node_name for r in row.read_replicas if r.id == replica.id)
        others = {n.host for n in row.nodes if n.name != node}
    where = _where(lab, ha_instance)
    host = where[_container(ha_instance, node)]
    assert host not in others  # three hosts, two taken by the main node and its standby
    assert endpoint.ip == next(h.address for h in lab.hosts if h.name == host)
    deadline = time.monotonic() + 60
    while True:
        conn = engine.connect(str(endpoint.ip), endpoint.port, "swarm_admin", PASSWORD)
        try:
            if 3 * 10**6 in engine.probe_ids(conn):
                break
        finally:
            engine.close_quietly(conn)
        assert time.monotonic() < deadline, "the replica never received the row"
        time.sleep(0.5)
    swarm.rdb.delete_read_replica(read_replica_id=replica.id)
    deadline = time.monotonic() + 120
    while _container(ha_instance, node) in _where(lab, ha_instance):
        assert time.monotonic() < deadline, "the replica stayed"
        time.sleep(1)
    assert all(
        lab.client(h.name).volumes.list(filters={"name": f"{PREFIX}-{ha_instance}-{node}-data"})
        == []
        for h in lab.hosts
    )
