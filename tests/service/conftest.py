"""Service tests make row-only instances (no containers); each module removes its own at the
end, so they never count as used host capacity for the tests that follow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.services import images, tenancy
from tests.support import rows
from tests.support.processes import Service


@pytest.fixture(scope="module", autouse=True)
def _row_only_instances_removed(migrated_db: str) -> Iterator[None]:
    yield
    rows.remove_created()


@pytest.fixture(scope="module")
def no_worker(worker: Service, monitor: Service) -> Iterator[None]:
    """Nothing acts on this module's rows while it looks at them: in a whole test session the
    session's worker would run their jobs, and its reconcile would heal these row-only ``ready``
    instances (no containers) into ``autohealing``; the session's monitor would do the same to
    a row-only HA instance (its main node has no container: it looks stopped)."""
    worker.stop()
    monitor.stop()
    try:
        yield
    finally:
        monitor.start()
        worker.start()


@pytest.fixture
def memos_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a process remembers (a key's holder, the image versions) stays remembered for the
    test once read: tests that count statements then count the same on a slow host, where a
    TTL could run out between the read that fills a memo and the counted one."""
    monkeypatch.setattr(images, "TTL_SECONDS", 3600.0)
    monkeypatch.setattr(images, "_memo", None)
    monkeypatch.setattr(tenancy, "PRINCIPAL_TTL_SECONDS", 3600.0)
    monkeypatch.setattr(tenancy, "_principals", {})
