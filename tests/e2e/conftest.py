"""End-to-end fixtures: the official Scaleway SDK pointed at our API, and Docker cleanup checks."""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest
from scaleway import Client
from scaleway.rdb.v1 import RdbV1API

from tests.support.tenants import Tenant

OWNER_LABEL = f"dbaas.owner={os.environ['DBAAS_RESOURCE_PREFIX']}"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


@pytest.fixture(scope="session", autouse=True)
def _clean_docker_leftovers(docker_client: docker.DockerClient) -> Iterator[None]:
    """Test resources carry the session's owner label; earlier runs' leftovers are removed."""

    def sweep() -> None:
        for c in docker_client.containers.list(all=True, filters={"label": OWNER_LABEL}):
            c.remove(force=True)
        for n in docker_client.networks.list(filters={"label": OWNER_LABEL}):
            n.remove()
        for v in docker_client.volumes.list(filters={"label": OWNER_LABEL}):
            v.remove(force=True)

    sweep()
    yield
    sweep()  # what the tests share (the edge network) goes too


@pytest.fixture(scope="session")
def rdb(api_url: str, tenant: Tenant, worker: object, monitor: object) -> RdbV1API:
    client = Client(
        access_key=tenant.access_key,
        secret_key=tenant.secret_key,
        api_url=api_url,
        default_region="fr-par",
        default_project_id=tenant.project_id,
    )
    return RdbV1API(client)


def instance_resources(
    docker_client: docker.DockerClient, instance_id: str
) -> dict[str, list[str]]:
    label = {"label": [OWNER_LABEL, f"dbaas.instance={instance_id}"]}
    return {
        "containers": [c.name for c in docker_client.containers.list(all=True, filters=label)],
        "networks": [n.name for n in docker_client.networks.list(filters=label)],
        "volumes": [v.name for v in docker_client.volumes.list(filters=label)],
    }
