"""A worker SIGKILLed while a new main node's data directory is unpacked from its template
(the ``template_seeded`` fault point: the copy in, not yet marked done) or after the node's
first start, before the instance's superuser password replaced the template's
(``before_adopt``): the restarted worker finishes the provisioning. The instance is ready,
its admin user connects through the endpoint, the service's superuser reaches the node with
the instance's password, and the template's password opens nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound
from scaleway.rdb.v1 import RdbV1API

from agents.base import SUPERUSER
from controlplane import secrets
from controlplane.db.models import Instance
from controlplane.db.session import session_factory
from controlplane.settings import get_settings
from tests.e2e.clients import CLIENTS
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, delete
from tests.support.processes import Service
from workers import naming

pytestmark = pytest.mark.docker


def _main_node(
    docker_client: docker.DockerClient, instance_id: str
) -> docker.models.containers.Container | None:
    """By its name: the one-shot containers made beside it (a template's build) carry the same
    labels, and one removed between Docker's list and its inspection failed a listing."""
    try:
        return docker_client.containers.get(naming.node_container(instance_id, "n1"))
    except NotFound:
        return None


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _node_accepts(docker_client: docker.DockerClient, instance_id: str, password: str) -> bool:
    """A superuser session straight to the main node on its instance network."""
    node = _main_node(docker_client, instance_id)
    assert node is not None
    address = next(iter(node.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    try:
        with closing(CLIENTS["postgresql"].connect(address, 5432, SUPERUSER, password)):
            return True
    except Exception as exc:  # any refusal: its text is checked
        assert "password authentication failed" in str(exc), exc
        return False


@pytest.mark.parametrize(
    ("point", "status"), [("template_seeded", "created"), ("before_adopt", "running")]
)
def test_worker_killed_while_a_node_starts_from_its_template(
    point: str, status: str, worker: Service, rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    worker.stop()
    worker.env["DBAAS_FAULT_PAUSE"] = f"{point}:60"
    worker.start()
    instance_id = None
    try:
        created = rdb.create_instance(
            engine=CLIENTS["postgresql"].engine, user_name=USER, password=PASSWORD,
            is_ha_cluster=False, disable_backup=True, backup_same_region=False,
            name=f"fault-template-{point}", volume_size=0, node_type="db-dev-s",
        )  # fmt: skip
        instance_id = created.id

        def paused_there() -> bool:
            node = _main_node(docker_client, created.id)
            return node is not None and node.status == status

        _until(paused_there, f"the worker never reached {point}")
        time.sleep(1)  # within the 60 s pause
        worker.kill()
        del worker.env["DBAAS_FAULT_PAUSE"]
        worker.start()
        ready = rdb.wait_for_instance(instance_id=created.id, options=wait())
        assert ready.status == "ready", ready
        client = CLIENTS["postgresql"]
        with closing(client.connect("127.0.0.1", ready.endpoints[0].port, USER, PASSWORD)):
            pass
        with session_factory()() as session:
            row = session.get(Instance, created.id)
            assert row is not None
            ours = secrets.decrypt(row.superuser_secret)
        assert _node_accepts(docker_client, created.id, ours)
        tried = 0
        for token in (get_settings().state_dir / "templates").glob("*/password"):
            try:
                template_password = secrets.decrypt(token.read_text())
            except ValueError:  # under a key rotated away by another test: rebuilt when used
                continue
            assert not _node_accepts(docker_client, created.id, template_password)
            tried += 1
        assert tried, "no template was used"
    finally:
        worker.env.pop("DBAAS_FAULT_PAUSE", None)
        if not worker.running:
            worker.start()
        if instance_id is not None:
            delete(rdb, instance_id)


def test_templates_are_files_of_the_service() -> None:
    """Kept under the state directory, readable by the service's account only."""
    for token in Path(get_settings().state_dir / "templates").glob("*/password"):
        assert token.stat().st_mode & 0o077 == 0, token
