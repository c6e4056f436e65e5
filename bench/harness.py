"""What every benchmark shares: an isolated control plane (temporary metadata store, its own
Celery queue and resource prefix) whose API, worker and HA monitor run as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Another prefix and Redis database let a second benchmark run beside this one.
PREFIX = os.environ.get("DBAAS_BENCH_PREFIX", "dbaasb")
REDIS_DB = os.environ.get("DBAAS_BENCH_REDIS_DB", "14")


def isolate() -> Path:
    """Call before importing the control plane: points its settings at a fresh state dir
    (production mode, with a key of its own)."""
    sys.path.insert(0, str(ROOT))
    state = Path(tempfile.mkdtemp(prefix="dbaas-bench-"))
    os.environ.pop("DBAAS_ENCRYPTION_KEY", None)
    os.environ.update(
        {
            "DBAAS_STATE_DIR": str(state),
            "DBAAS_DEV_MODE": "false",
            "DBAAS_ENCRYPTION_KEY_FILE": str(state / "secrets" / "encryption.key"),
            "DATABASE_URL": f"sqlite:///{state / 'dbaas.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "DBAAS_RESOURCE_PREFIX": PREFIX,
            "DBAAS_QUEUE_NAME": f"dbaas-bench-{state.name}",
            "DBAAS_ENDPOINT_PORT_MIN": "46000",
            "DBAAS_ENDPOINT_PORT_MAX": "46999",
        }
    )
    return state


@contextmanager
def control_plane() -> Iterator[tuple[str, object]]:
    """Yields (API URL, a tenant) with the API, a worker and the HA monitor running; on the way
    out, even after a failure, every container, network, volume and state file it made goes."""
    from controlplane import keyring
    from controlplane.cli import migrate
    from tests.support import processes, tenants

    keyring.ensure_key_file()
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=False, capture_output=True)
    migrate(None)  # type: ignore[arg-type]
    tenant = tenants.new_tenant("bench")
    try:
        with ExitStack() as stack:
            api_url = stack.enter_context(processes.api_server())
            stack.enter_context(processes.celery_worker())
            stack.enter_context(processes.ha_monitor())
            yield api_url, tenant
    finally:
        remove_leftovers()


def remove_leftovers() -> None:
    """Everything labelled with the bench prefix, the loop volumes, the state directory."""
    import docker

    from controlplane.settings import get_settings
    from workers import volumes

    client = docker.from_env()
    owner = {"label": [f"dbaas.owner={PREFIX}"]}
    for container in client.containers.list(all=True, filters=owner, ignore_removed=True):
        container.remove(force=True)
    for network in client.networks.list(filters=owner):
        network.remove()
    for volume in client.volumes.list(filters=owner):
        volume.remove(force=True)
    for name in volumes.existing_names():
        volumes.remove(name)
    if os.environ.get("DBAAS_BENCH_KEEP_STATE"):  # logs stay for inspection
        print(f"state kept in {get_settings().state_dir}")
    else:
        shutil.rmtree(get_settings().state_dir, ignore_errors=True)
