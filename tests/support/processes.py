"""The service's processes (API, Celery worker, Celery beat, HA monitor) as subprocesses of the
test session, the way ``deploy/up.sh`` runs them: each under ``deploy/supervise.sh``, which
starts it again when it exits on its own. ``kill`` takes the supervisor too (a crash of the
whole unit), and ``start`` brings it back; the API keeps its port across restarts."""

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


@dataclass
class Service:
    """One restartable process (its own process group: a kill takes its children too)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None  # polled after each start until it answers 200
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        with _log_file(self.name).open("ab") as log:
            proc = subprocess.Popen(
                [str(ROOT / "deploy" / "supervise.sh"), self.name, *self.argv],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        self.procs.append(proc)
        if self.health_url:
            self._wait_healthy(proc)

    def _wait_healthy(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.health_url or "", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; see {_log_file(self.name)}")
            time.sleep(0.2)

    @property
    def current(self) -> subprocess.Popen[bytes]:
        return self.procs[-1]

    @property
    def running(self) -> bool:
        return bool(self.procs) and self.current.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.running:
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


# Kept for the tests that speak of "the worker".
Worker = Service


def api(env: dict[str, str] | None = None, name: str = "api") -> Service:
    port = free_port()
    argv = [str(BIN / "uvicorn"), "controlplane.main:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    env = {"DBAAS_PUBLIC_API_URL": f"http://127.0.0.1:{port}", **(env or {})}  # signed URLs
    return Service(name, argv, env, health_url=f"http://127.0.0.1:{port}/healthz")


def url_of(service: Service) -> str:
    assert service.health_url is not None
    return service.health_url.removesuffix("/healthz")


def worker() -> Service:
    argv = [str(BIN / "celery"), "-A", "workers.app", "worker", "--loglevel", "INFO"]
    argv += ["--concurrency", "4", "--pool", "threads", "-n", "test@%h"]
    return Service("worker", argv)


def beat() -> Service:
    schedule = _log_file("beat").with_suffix(".schedule")
    argv = [str(BIN / "celery"), "-A", "workers.app", "beat", "--loglevel", "INFO"]
    return Service("beat", [*argv, "-s", str(schedule)])


def monitor() -> Service:
    return Service("monitor", [str(BIN / "dbaas"), "monitor"])


@contextmanager
def running(service: Service) -> Iterator[Service]:
    service.start()
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def api_server(env: dict[str, str] | None = None, log_name: str = "api") -> Iterator[str]:
    """An API process (``env`` overrides the session's environment: another store, say)."""
    with running(api(env, log_name)) as service:
        yield url_of(service)


@contextmanager
def celery_worker() -> Iterator[Service]:
    """A worker and beat, as ``deploy/up.sh`` runs them; yields the worker."""
    with running(beat()), running(worker()) as w:
        yield w


@contextmanager
def ha_monitor() -> Iterator[Service]:
    with running(monitor()) as service:
        yield service
