"""The real API and Celery worker as subprocesses of the test session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_file(name: str) -> Path:
    path = Path(os.environ["DBAAS_STATE_DIR"]) / "log" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def api_server(env: dict[str, str] | None = None, log_name: str = "api") -> Iterator[str]:
    """``env`` overrides the session's environment (another metadata store, say)."""
    port = free_port()
    log = _log_file(log_name).open("ab")
    proc = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "controlplane.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API did not start; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)
        log.close()


@dataclass
class Worker:
    """A restartable Celery worker; ``kill()`` is a SIGKILL of the whole worker."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        log = _log_file("worker").open("ab")
        proc = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "workers.app",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "4",
                "--pool",
                "threads",
                "-n",
                f"test{len(self.procs)}@%h",
                "-B",
                "-s",
                str(_log_file("beat").with_suffix(".schedule")),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)

    @property
    def current(self) -> subprocess.Popen[bytes]:
        return self.procs[-1]

    def kill(self) -> None:
        os.killpg(self.current.pid, signal.SIGKILL)
        self.current.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def celery_worker() -> Iterator[Worker]:
    worker = Worker()
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@contextmanager
def ha_monitor() -> Iterator[subprocess.Popen[bytes]]:
    log = _log_file("monitor").open("ab")
    proc = subprocess.Popen(
        [str(BIN / "dbaas"), "monitor"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        _stop(proc)
        log.close()
