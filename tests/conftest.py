"""Shared fixtures: an isolated state dir, a migrated metadata store, real Redis, real processes.

The whole session runs against one temporary SQLite file and Redis database 15; the API and
Celery worker are real subprocesses that inherit this environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from controlplane import keyring
from tests.support import processes, tenants

_STATE = Path(tempfile.mkdtemp(prefix="dbaas-test-"))
_PORT_SLOT = int(os.environ.get("DBAAS_TEST_PORT_SLOT", os.getpid() % 20)) % 20
TEST_ENV = {
    "DBAAS_STATE_DIR": str(_STATE),
    "DATABASE_URL": f"sqlite:///{_STATE / 'dbaas.sqlite3'}",
    "REDIS_URL": os.environ.get("DBAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    # Another prefix (and Redis database) lets a second test session run beside this one.
    "DBAAS_RESOURCE_PREFIX": os.environ.get("DBAAS_TEST_PREFIX", "dbaast"),
    "DBAAS_QUEUE_NAME": f"dbaas-test-{_STATE.name}",
    # Endpoint ports of their own, away from a service running on this host and from the
    # sessions beside this one (deploy/test_lanes.py gives each its slot).
    "DBAAS_ENDPOINT_PORT_MIN": str(40000 + _PORT_SLOT * 1000),
    "DBAAS_ENDPOINT_PORT_MAX": str(40999 + _PORT_SLOT * 1000),
    "DBAAS_SWEEPER_INTERVAL_SECONDS": "2",
    "DBAAS_REPUBLISH_AFTER_SECONDS": "5",
    "DBAAS_RECONCILE_INTERVAL_SECONDS": "5",
    "DBAAS_METRICS_INTERVAL_SECONDS": "2",
    # Production mode, with a key of the session's own (as `dbaas init-key` makes it).
    "DBAAS_DEV_MODE": "false",
    "DBAAS_ENCRYPTION_KEY_FILE": str(_STATE / "secrets" / "encryption.key"),
}
os.environ.pop("DBAAS_ENCRYPTION_KEY", None)
os.environ.update(TEST_ENV)
keyring.write_key_file(Path(TEST_ENV["DBAAS_ENCRYPTION_KEY_FILE"]), [keyring.new_key()])


@pytest.fixture(scope="session", autouse=True)
def _remove_state_dir() -> Iterator[None]:
    """The session's state directory goes at the end, unless a volume is still mounted in it
    or DBAAS_TEST_KEEP_STATE is set (then it is left for inspection: logs are in log/)."""
    yield
    mounts = Path("/proc/mounts").read_text() if Path("/proc/mounts").exists() else ""
    if f" {_STATE}/" not in mounts and not os.environ.get("DBAAS_TEST_KEEP_STATE"):
        shutil.rmtree(_STATE, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_db() -> str:
    from controlplane.cli import migrate
    from controlplane.settings import get_settings

    get_settings.cache_clear()
    redis.Redis.from_url(TEST_ENV["REDIS_URL"]).flushdb()
    migrate(None)  # type: ignore[arg-type]
    return TEST_ENV["DATABASE_URL"]


@pytest.fixture(scope="session")
def api_service(migrated_db: str) -> Iterator[processes.Service]:
    with processes.running(processes.api()) as service:
        yield service


@pytest.fixture(scope="session")
def api_url(api_service: processes.Service) -> str:
    return processes.url_of(api_service)


@pytest.fixture(scope="session")
def beat(migrated_db: str) -> Iterator[processes.Service]:
    with processes.running(processes.beat()) as service:
        yield service


@pytest.fixture(scope="session")
def worker(migrated_db: str, beat: processes.Service) -> Iterator[processes.Service]:
    with processes.running(processes.worker()) as service:
        yield service


@pytest.fixture(scope="session")
def tenant(migrated_db: str) -> tenants.Tenant:
    return tenants.new_tenant("tests")


@pytest.fixture(scope="session")
def other_tenant(migrated_db: str) -> tenants.Tenant:
    return tenants.new_tenant("other")


@pytest.fixture(scope="session")
def monitor(migrated_db: str) -> Iterator[processes.Service]:
    with processes.running(processes.monitor()) as service:
        yield service


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server (our image, a container) for metadata-store tests."""
    from tests.support.stores import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty metadata store of each kind (migrate it yourself)."""
    from tests.support.stores import fresh_postgres, fresh_sqlite

    if request.param == "sqlite":
        return fresh_sqlite(tmp_path)
    return fresh_postgres(request.getfixturevalue("postgres_server_url"))
