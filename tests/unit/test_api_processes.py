"""How many API processes ``dbaas api`` starts when none is configured."""

from __future__ import annotations

from controlplane.cli import default_api_workers


def test_one_process_per_cpu_on_sqlite() -> None:
    assert default_api_workers("sqlite:////var/lib/dbaas/metadata.db", cpus=2) == 2


def test_two_processes_per_cpu_on_postgresql() -> None:
    """The hot reads wait for the store's round trips on the event loop."""
    assert default_api_workers("postgresql+psycopg://u:p@db:5432/dbaas", cpus=2) == 4
