"""A container's CPU time and memory in use from its cgroup files (v2, v1; cgroupfs and
systemd drivers: a tree made under tmp_path) or from Docker's stats document."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.cgroups import Usage, from_docker_stats, read, v1_usage, v2_usage

CID = "4f" * 32
V2_CPU = "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n"
V2_MEMORY_STAT = "anon 1000\nfile 9000\nactive_file 1000\ninactive_file 8000\n"
V1_MEMORY_STAT = "cache 9000\nrss 1000\ninactive_file 7000\ntotal_inactive_file 8000\n"


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_v2_files() -> None:
    assert v2_usage(V2_CPU, "12000\n", V2_MEMORY_STAT) == Usage(2.5, 4000)


def test_v1_files() -> None:
    assert v1_usage("1500000000\n", "12000\n", V1_MEMORY_STAT) == Usage(1.5, 4000)


def test_page_cache_larger_than_usage_is_no_negative_memory() -> None:
    assert v2_usage(V2_CPU, "100", V2_MEMORY_STAT).memory_bytes == 0


@pytest.mark.parametrize(
    "group", ["docker/{cid}", "system.slice/docker-{cid}.scope"], ids=["cgroupfs", "systemd"]
)
def test_a_v2_tree_is_found(tmp_path: Path, group: str) -> None:
    _write(
        tmp_path / group.format(cid=CID),
        {"cpu.stat": V2_CPU, "memory.current": "12000", "memory.stat": V2_MEMORY_STAT},
    )
    assert read(CID, tmp_path) == Usage(2.5, 4000)


@pytest.mark.parametrize(
    "parent", ["docker/{cid}", "system.slice/docker-{cid}.scope"], ids=["cgroupfs", "systemd"]
)
def test_a_v1_tree_is_found(tmp_path: Path, parent: str) -> None:
    _write(tmp_path / "cpuacct" / parent.format(cid=CID), {"cpuacct.usage": "1500000000"})
    _write(
        tmp_path / "memory" / parent.format(cid=CID),
        {"memory.usage_in_bytes": "12000", "memory.stat": V1_MEMORY_STAT},
    )
    assert read(CID, tmp_path) == Usage(1.5, 4000)


def test_no_cgroup_no_usage(tmp_path: Path) -> None:
    assert read(CID, tmp_path) is None
    _write(tmp_path / "docker" / CID, {"cpu.stat": V2_CPU})  # memory files gone meanwhile
    assert read(CID, tmp_path) is None


def test_dockers_stats_document() -> None:
    v1 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 8_000_000_000}},
        "memory_stats": {"usage": 12000, "stats": {"total_inactive_file": 8000, "cache": 9000}},
    }
    v2 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 8_000_000_000}},
        "memory_stats": {"usage": 12000, "stats": {"inactive_file": 2000}},
    }
    assert from_docker_stats(v1) == Usage(8.0, 4000)
    assert from_docker_stats(v2) == Usage(8.0, 10000)
    stopped = {"cpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {}}
    assert from_docker_stats(stopped) is None
