"""How many API processes ``dbaas api`` starts when none is configured."""

from __future__ import annotations

from controlplane.cli import default_api_workers


def test_one_process_per_cpu() -> None:
    assert default_api_workers(cpus=2) == 2
    assert default_api_workers(cpus=6) == 6
    assert default_api_workers() >= 1
