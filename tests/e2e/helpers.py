"""Small helpers for tests that drive real Docker containers.

Everything a test creates carries the labels ``dbaas.test=1`` and ``dbaas.test.run=<RUN_ID>`` so
that a finalizer can remove it even when a test dies half-way.
"""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import docker
import pytest
from docker.models.containers import Container
from docker.models.networks import Network

T = TypeVar("T")
RUN_ID = uuid.uuid4().hex[:8]
LABELS = {"dbaas.test": "1", "dbaas.test.run": RUN_ID}
Files = dict[str, tuple[bytes, int, int, int]]  # relative path -> (data, mode, uid, gid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docker_client() -> docker.DockerClient:
    """A client for the local engine; FAILS (never skips) when Docker does not answer."""
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"Docker engine not reachable: {exc}")
    return client


def require_image(client: docker.DockerClient, tag: str) -> None:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        pytest.fail(f"image {tag} is missing: run deploy/images/build.sh")


def tar_bytes(files: Files) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for path, (data, mode, uid, gid) in files.items():
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = len(data), mode, uid, gid, int(time.time())
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def wait_until(
    check: Callable[[], T], what: str, timeout: float = 60, container: Container | None = None
) -> T:
    """Call ``check`` until it returns without raising; fail early if ``container`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except Exception as exc:
            if container is not None:
                container.reload()
                if container.status in ("exited", "dead"):
                    logs = container.logs(tail=40).decode(errors="replace")
                    pytest.fail(f"{what}: container {container.name} exited:\n{logs}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not ready after {timeout}s: {exc!r}")
            time.sleep(0.3)


class Lab:
    """Creates labelled containers and networks and removes them all in ``cleanup``."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.containers: list[Container] = []
        self.networks: list[Network] = []

    def name(self, suffix: str) -> str:
        return f"dbaas-test-{RUN_ID}-{uuid.uuid4().hex[:4]}-{suffix}"

    def network(self, suffix: str) -> Network:
        net = self.client.networks.create(self.name(suffix), driver="bridge", labels=LABELS)
        self.networks.append(net)
        return net

    def start(
        self,
        image: str,
        command: list[str] | None,
        suffix: str,
        files: dict[str, Files] | None = None,
        **kwargs: object,
    ) -> Container:
        """Create a container, put ``files`` ({directory: Files}) into it, then start it."""
        c = self.client.containers.create(
            image, command, name=self.name(suffix), labels=LABELS, detach=True, **kwargs
        )
        self.containers.append(c)
        for directory, content in (files or {}).items():
            assert c.put_archive(directory, tar_bytes(content))
        c.start()
        return c

    def cleanup(self) -> None:
        for c in self.containers:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True, v=True)
        for n in self.networks:
            with contextlib.suppress(docker.errors.NotFound):
                n.remove()
        self.containers.clear()
        self.networks.clear()


def remove_run_leftovers(client: docker.DockerClient) -> None:
    """Remove whatever this test run left behind (by its run label)."""
    selector = {"label": f"dbaas.test.run={RUN_ID}"}
    for c in client.containers.list(all=True, filters=selector):
        c.remove(force=True, v=True)
    for n in client.networks.list(filters=selector):
        n.remove()
