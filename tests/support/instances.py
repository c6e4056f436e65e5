"""Instances made through the official SDK, for tests that need a real one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker
import pytest
from scaleway import ScalewayException, WaitForOptions
from scaleway.rdb.v1 import InstanceStatus, RdbV1API

from tests.e2e.conftest import instance_resources


def wait() -> WaitForOptions:  # type: ignore[type-arg]
    """Fresh options per call: the SDK's waiters store their stop condition in them."""
    return WaitForOptions(timeout=300, min_delay=1, max_delay=2)


@contextmanager
def ready_instance(
    rdb: RdbV1API,
    docker_client: docker.DockerClient,
    *,
    engine: str,
    user: str,
    password: str,
    name: str,
    ha: bool = False,
) -> Iterator[str]:
    """A ready instance; afterwards deleted (once any running job is done) and checked gone,
    with nothing left behind in Docker."""
    created = rdb.create_instance(
        engine=engine,
        user_name=user,
        password=password,
        node_type="db-dev-s",
        is_ha_cluster=ha,
        disable_backup=True,
        volume_size=0,
        backup_same_region=False,
        name=name,
    )
    ready = rdb.wait_for_instance(instance_id=created.id, options=wait())
    assert ready.status == InstanceStatus.READY and ready.is_ha_cluster == ha
    yield created.id
    rdb.wait_for_instance(instance_id=created.id, options=wait())  # a rebuild may still run
    rdb.delete_instance(instance_id=created.id)
    with pytest.raises(ScalewayException) as gone:
        rdb.wait_for_instance(instance_id=created.id, options=wait())
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, created.id) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }
