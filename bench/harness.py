"""What every benchmark shares: an isolated control plane (temporary metadata store, its own
Celery queue and resource prefix) whose API, worker and HA monitor run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def isolate() -> Path:
    """Call before importing the control plane: points its settings at a fresh state dir."""
    sys.path.insert(0, str(ROOT))
    state = Path(tempfile.mkdtemp(prefix="dbaas-bench-"))
    os.environ.update(
        {
            "DBAAS_STATE_DIR": str(state),
            "DATABASE_URL": f"sqlite:///{state / 'dbaas.sqlite3'}",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "DBAAS_RESOURCE_PREFIX": "dbaasb",
            "DBAAS_QUEUE_NAME": f"dbaas-bench-{state.name}",
            "DBAAS_ENDPOINT_PORT_MIN": "46000",
            "DBAAS_ENDPOINT_PORT_MAX": "46999",
        }
    )
    return state


@contextmanager
def control_plane() -> Iterator[tuple[str, object]]:
    """Yields (API URL, a tenant) with the API, a worker and the HA monitor running."""
    from controlplane.cli import migrate
    from tests.support import processes, tenants

    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)
    migrate(None)  # type: ignore[arg-type]
    tenant = tenants.new_tenant("bench")
    with ExitStack() as stack:
        api_url = stack.enter_context(processes.api_server())
        stack.enter_context(processes.celery_worker())
        stack.enter_context(processes.ha_monitor())
        yield api_url, tenant
