"""Maintenance through the official SDK: a rebuilt engine image (another recipe hash behind the
same tag, as ``deploy/images/build.sh`` leaves it) is announced on every instance still running
the old build; applying it, or its forced date passing, moves every node onto the new build,
rolled on HA with no acknowledged commit lost. Nothing pending is a clear error."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

import docker
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import Instance as WireInstance
from scaleway.rdb.v1 import RdbV1API

from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.base import utcnow
from controlplane.db.models import Maintenance
from controlplane.db.session import session_factory
from tests.e2e.clients import CLIENTS
from tests.support.ha import wait_ha_again
from tests.support.instances import wait
from tests.support.live import Live, create, delete, exists, writing

PREFIX = os.environ["DBAAS_RESOURCE_PREFIX"]

pytestmark = [pytest.mark.docker, pytest.mark.host_wide]  # re-tags an engine image


@contextmanager
def rebuilt(docker_client: docker.DockerClient, tag: str) -> Iterator[str]:
    """For the duration, ``tag`` points at a new build of its image (a changed recipe hash);
    then at the original again. A run killed meanwhile leaves a recipe hash that build.sh
    (deploy/lab.sh) sees as changed: it rebuilds the image."""
    original = docker_client.images.get(tag)
    repository, version = tag.rsplit(":", 1)
    scratch = docker_client.containers.create(original.id, name=f"{PREFIX}-rebuild-{uuid.uuid4()}")
    try:
        new = scratch.commit(
            repository, version, changes=[f"LABEL dbaas.recipe_hash=test-{uuid.uuid4().hex}"]
        )
    finally:
        scratch.remove(force=True)
    try:
        yield str(new.id)
    finally:
        original.tag(repository, version)
        with suppress(docker.errors.APIError):
            docker_client.images.remove(str(new.id))


def _node_images(docker_client: docker.DockerClient, instance_id: str) -> set[str]:
    label = {"label": [f"dbaas.instance={instance_id}"]}
    nodes = [c for c in docker_client.containers.list(filters=label) if c.labels.get("dbaas.node")]
    assert nodes
    return {c.attrs["Image"] for c in nodes}


def _announced(rdb: RdbV1API, instance_id: str) -> WireInstance:
    """Until the periodic job announced an image update on the instance."""
    deadline = time.monotonic() + 60
    while True:
        instance = rdb.get_instance(instance_id=instance_id)
        if any(m.status == "pending" for m in instance.maintenances):
            return instance
        assert time.monotonic() < deadline, "no maintenance was announced"
        time.sleep(1)


def _ready(rdb: RdbV1API, live: Live) -> WireInstance:
    instance = rdb.wait_for_instance(instance_id=live.instance_id, options=wait())
    assert instance.status == "ready", instance
    assert instance.endpoints[0].port == live.port  # the same endpoint throughout
    return instance


def _force_now(instance_id: str) -> None:
    """Pretend its forced date passed."""
    with session_factory()() as session:
        for row in session.query(Maintenance).filter(Maintenance.instance_id == instance_id):
            row.forced_at = utcnow() - timedelta(seconds=1)
        session.commit()


@pytest.mark.parametrize("family", ["postgresql", "mariadb"])
def test_a_rebuilt_image_is_announced_and_applied(
    rdb: RdbV1API, docker_client: docker.DockerClient, family: str
) -> None:
    """PostgreSQL: the user applies it. MariaDB: its forced date passes."""
    client = CLIENTS[family]
    live = create(rdb, client, f"mnt-{family}", ha=True)
    try:
        old = _node_images(docker_client, live.instance_id)
        assert len(old) == 1
        with pytest.raises(ScalewayException) as nothing:
            rdb.apply_instance_maintenance(instance_id=live.instance_id)
        assert nothing.value.status_code == 412
        assert nothing.value.response.json()["type"] == "precondition_failed"

        version = find_engine_version(load_catalog(), client.engine)
        assert version is not None
        with rebuilt(docker_client, version.image) as new_image:
            try:
                _image_update(rdb, docker_client, live, new_image, old)
            finally:  # before the tag goes back: the new build is then no longer in use
                delete(rdb, live.instance_id)
    finally:
        if exists(live.instance_id):
            delete(rdb, live.instance_id)


def _image_update(
    rdb: RdbV1API, docker_client: docker.DockerClient, live: Live, new_image: str, old: set[str]
) -> None:
    family = "postgresql" if live.client is CLIENTS["postgresql"] else "mariadb"
    instance = _announced(rdb, live.instance_id)
    (pending,) = instance.maintenances
    assert pending.is_applicable and "rebuilt" in pending.reason
    assert pending.forced_at is not None and pending.forced_at > utcnow()
    flagged = rdb.list_instances_all(has_maintenances=True)
    assert live.instance_id in {i.id for i in flagged}
    assert _node_images(docker_client, live.instance_id) == old  # nothing moved yet

    wait_ha_again(live.instance_id)
    with writing(live) as loop:
        if family == "postgresql":
            applied = rdb.apply_instance_maintenance(instance_id=live.instance_id)
            assert applied.status == "ongoing" and applied.reason == pending.reason
        else:
            _force_now(live.instance_id)
            deadline = time.monotonic() + 60
            while rdb.get_instance(instance_id=live.instance_id).status == "ready":
                assert time.monotonic() < deadline, "the forced maintenance never started"
                time.sleep(0.5)
        _ready(rdb, live)
        wait_ha_again(live.instance_id)
    assert _node_images(docker_client, live.instance_id) == {new_image}
    done = rdb.get_instance(instance_id=live.instance_id).maintenances
    assert [(m.status, m.is_applicable) for m in done] == [("done", False)]
    assert done[0].closed_at is not None
    flagged = rdb.list_instances_all(has_maintenances=True)
    assert live.instance_id not in {i.id for i in flagged}
    print(f"{family} image update: longest write pause {loop.longest_stall():.2f} s")
