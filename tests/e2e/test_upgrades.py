"""Restart and upgrade through the official SDK, while a client writes: every acknowledged
commit survives, the endpoint stays, and Docker shows what the API says (limits, volumes)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from scaleway.rdb.v1 import RdbV1API

from controlplane.db.models import Instance
from controlplane.db.session import session_factory
from tests.e2e.clients import CLIENTS
from tests.support.ha import primary_container, wait_ha_again
from tests.support.instances import wait
from tests.support.live import Live, create, delete, ids, writing
from workers import naming, topology

pytestmark = pytest.mark.docker


def _started(docker_client: docker.DockerClient, instance_id: str) -> dict[str, str]:
    """Each node container (by name) and when it last started."""
    label = {"label": [f"dbaas.instance={instance_id}"]}
    return {
        c.name: c.attrs["State"]["StartedAt"]
        for c in docker_client.containers.list(filters=label)
        if c.labels.get("dbaas.node")
    }


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def ha(request: pytest.FixtureRequest, rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS[request.param], f"up-ha-{request.param}", ha=True)
    yield live
    delete(rdb, live.instance_id)


@pytest.fixture(scope="module")
def single(rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS["postgresql"], "up-single", ha=False)
    yield live
    delete(rdb, live.instance_id)


def _ready(rdb: RdbV1API, live: Live) -> object:
    instance = rdb.wait_for_instance(instance_id=live.instance_id, options=wait())
    assert instance.status == "ready", instance
    assert instance.endpoints[0].port == live.port  # the same endpoint throughout
    return instance


def test_restart_standalone(
    rdb: RdbV1API, docker_client: docker.DockerClient, single: Live
) -> None:
    before = _started(docker_client, single.instance_id)
    with writing(single):
        restarting = rdb.restart_instance(instance_id=single.instance_id)
        assert restarting.status == "restarting"
        _ready(rdb, single)
    after = _started(docker_client, single.instance_id)
    assert before.keys() == after.keys() and all(after[n] != before[n] for n in before)


def test_restart_ha_rolls(rdb: RdbV1API, docker_client: docker.DockerClient, ha: Live) -> None:
    """Standby first, a switchover, then the old main node: every node restarted, the
    instance synchronous again, nothing lost."""
    wait_ha_again(ha.instance_id)
    main_before = primary_container(ha.instance_id)
    before = _started(docker_client, ha.instance_id)
    with writing(ha) as loop:
        rdb.restart_instance(instance_id=ha.instance_id)
        _ready(rdb, ha)
        wait_ha_again(ha.instance_id)
    after = _started(docker_client, ha.instance_id)
    assert all(after[n] != before[n] for n in before), (before, after)
    assert primary_container(ha.instance_id) != main_before  # the switchover happened
    print(f"restart: longest write pause {loop.longest_stall():.2f} s")


def test_node_type_upgrade_ha(rdb: RdbV1API, docker_client: docker.DockerClient, ha: Live) -> None:
    wait_ha_again(ha.instance_id)
    with writing(ha) as loop:
        upgrading = rdb.upgrade_instance(instance_id=ha.instance_id, node_type="db-dev-m")
        assert upgrading.status == "initializing" and upgrading.node_type == "db-dev-m"
        _ready(rdb, ha)
        wait_ha_again(ha.instance_id)
    _limits_are(docker_client, ha.instance_id, "db-dev-m")
    print(f"node type change: longest write pause {loop.longest_stall():.2f} s")


def test_node_type_upgrade_standalone_and_refusals(
    rdb: RdbV1API, docker_client: docker.DockerClient, single: Live
) -> None:
    from scaleway import ScalewayException

    with writing(single):
        rdb.upgrade_instance(instance_id=single.instance_id, node_type="db-dev-m")
        instance = _ready(rdb, single)
    assert instance.node_type == "db-dev-m"  # type: ignore[attr-defined]
    _limits_are(docker_client, single.instance_id, "db-dev-m")
    for bad in ({"node_type": "db-nope"}, {"enable_ha": False}, {"volume_size": 1}):
        with pytest.raises(ScalewayException) as refused:
            rdb.upgrade_instance(instance_id=single.instance_id, **bad)  # type: ignore[arg-type]
        assert refused.value.status_code == 400, bad
    assert rdb.get_instance(instance_id=single.instance_id).status == "ready"


def _limits_are(docker_client: docker.DockerClient, instance_id: str, node_type: str) -> None:
    from controlplane.catalog import find_node_type, load_catalog

    wanted = topology.node_limits(find_node_type(load_catalog(), node_type))  # type: ignore[arg-type]
    label = {"label": [f"dbaas.instance={instance_id}"]}
    nodes = [c for c in docker_client.containers.list(filters=label) if c.labels.get("dbaas.node")]
    assert nodes
    for container in nodes:
        host = container.attrs["HostConfig"]
        assert (host["Memory"], host["NanoCpus"]) == (wanted.mem_bytes, wanted.nano_cpus)


def test_enable_ha_then_failover_loses_nothing(
    rdb: RdbV1API, docker_client: docker.DockerClient, single: Live
) -> None:
    with writing(single) as loop:
        upgrading = rdb.upgrade_instance(instance_id=single.instance_id, enable_ha=True)
        assert upgrading.is_ha_cluster is True
        _ready(rdb, single)
        wait_ha_again(single.instance_id)
        before = len(loop.acknowledged)
        docker_client.containers.get(primary_container(single.instance_id)).kill()
        loop.wait_for_progress(after=before, timeout=60)
    wait_ha_again(single.instance_id)


def test_volume_type_move_keeps_the_data(
    rdb: RdbV1API, docker_client: docker.DockerClient, single: Live
) -> None:
    """lssd -> sbs_5k on an HA instance (after the test above): rolled, writes going on."""
    with writing(single):
        rdb.upgrade_instance(instance_id=single.instance_id, volume_type="sbs_5k")  # type: ignore[arg-type]
        instance = _ready(rdb, single)
        wait_ha_again(single.instance_id)
    assert instance.volume.type_ == "sbs_5k"  # type: ignore[attr-defined]
    for container in docker_client.containers.list(
        filters={"label": [f"dbaas.instance={single.instance_id}"]}
    ):
        if container.labels.get("dbaas.node"):
            sources = {m["Source"] for m in container.attrs["Mounts"]}
            assert any(s.startswith(str(_volumes_dir())) for s in sources), sources
    assert not docker_client.volumes.list(
        filters={"label": f"dbaas.instance={single.instance_id}"}
    )  # the lssd volumes are gone


def test_main_killed_while_its_standby_moves_comes_back(
    rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    """A volume type change rebuilds the standby first (replication asynchronous meanwhile, so
    the HA monitor cannot promote it); the main node killed then is started again on its data
    by the job's next attempt, which finishes the move: every acknowledged commit is there."""
    live = create(rdb, CLIENTS["postgresql"], "up-kill-mid-move", ha=True)
    try:
        wait_ha_again(live.instance_id)
        with writing(live) as loop:
            main = primary_container(live.instance_id)
            rdb.upgrade_instance(instance_id=live.instance_id, volume_type="sbs_5k")  # type: ignore[arg-type]
            deadline = time.monotonic() + 60
            while _sync_mode(live.instance_id) == "sync":  # until the standby's rebuild starts
                assert time.monotonic() < deadline, "the standby's rebuild never started"
                time.sleep(0.05)
            before = len(loop.acknowledged)
            docker_client.containers.get(main).kill()
            assert _ready(rdb, live).volume.type_ == "sbs_5k"  # type: ignore[attr-defined]
            wait_ha_again(live.instance_id)
            loop.wait_for_progress(after=before, timeout=60)
        for container in docker_client.containers.list(
            filters={"label": [f"dbaas.instance={live.instance_id}"]}
        ):
            if container.labels.get("dbaas.node"):
                sources = {m["Source"] for m in container.attrs["Mounts"]}
                assert any(s.startswith(str(_volumes_dir())) for s in sources), sources
    finally:
        delete(rdb, live.instance_id)


def _sync_mode(instance_id: str) -> str:
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return row.sync_mode


def _volumes_dir() -> Path:
    return Path(os.environ["DBAAS_STATE_DIR"]) / "volumes"


def test_disk_full_then_grow(rdb: RdbV1API, docker_client: docker.DockerClient) -> None:
    """A real ENOSPC on a 5 GB block volume: ``disk_full``, writes refused; growing the volume
    online brings it back with every acknowledged row."""
    live = create(
        rdb, CLIENTS["postgresql"], "up-disk", ha=False, volume_type="sbs_5k",
        volume_size=5_000_000_000,
    )  # fmt: skip
    try:
        with writing(live) as loop:
            time.sleep(1)
        stored = ids(live)
        assert set(loop.acknowledged) <= stored
        mount = _volumes_dir() / naming.volume(live.instance_id, "n1")
        filler = mount / "filler"
        subprocess.run(["fallocate", "-l", str(_free(mount) - 64 * 1024 * 1024), str(filler)],
                       check=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while rdb.get_instance(instance_id=live.instance_id).status != "disk_full":
            assert time.monotonic() < deadline, "the full disk was never noticed"
            time.sleep(0.5)
        upgrading = rdb.upgrade_instance(instance_id=live.instance_id, volume_size=10_000_000_000)
        assert upgrading.volume.size == 10_000_000_000
        _ready(rdb, live)
        assert _free(mount) > 4_000_000_000  # grown online, filler still there
        assert stored <= ids(live)
        with writing(live):
            time.sleep(1)
    finally:
        delete(rdb, live.instance_id)


def _free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
