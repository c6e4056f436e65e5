"""One swarm lab for the whole test group (three namespaced dockerd, deploy/swarm_lab.py),
removed at the end even when a test fails; a crashed run's leftover is removed first."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import docker
import pytest

from controlplane.settings import get_settings
from deploy import swarm_lab
from workers import docker_driver, image_sync

IMAGES = ("dbaas/postgresql:15", "dbaas/haproxy:2.6")


@pytest.fixture(scope="session")
def lab() -> Iterator[swarm_lab.Lab]:
    if os.geteuid() != 0:
        pytest.skip("the swarm lab needs root (network namespaces, dockerd)")
    try:
        swarm_lab.down(swarm_lab.DEFAULT_DIR)
        started = time.monotonic()
        built = swarm_lab.up(3, swarm_lab.DEFAULT_DIR)
        print(f"lab up in {time.monotonic() - started:.1f} s")
        yield built
    finally:
        swarm_lab.down(swarm_lab.DEFAULT_DIR)


@pytest.fixture(scope="session")
def synced(lab: swarm_lab.Lab) -> list[image_sync.Copy]:
    source = docker.from_env(timeout=300)
    hosts = {h.name: lab.client(h.name) for h in lab.hosts}
    return image_sync.sync(source, hosts, IMAGES)


@pytest.fixture
def swarm_mode(lab: swarm_lab.Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process's settings in swarm mode (the lab's first host manages); the driver's
    memo of hosts and container homes starts empty and is emptied again afterwards."""
    monkeypatch.setenv("DBAAS_SWARM_MANAGER", lab.manager_socket)
    get_settings.cache_clear()
    docker_driver.forget_hosts()
    try:
        yield lab.manager_socket
    finally:
        monkeypatch.delenv("DBAAS_SWARM_MANAGER")
        get_settings.cache_clear()
        docker_driver.forget_hosts()
