"""Every test, in lanes: two pytest sessions side by side, then what changes the host for every
session, alone.

A test session mostly waits on containers (starting, failing over, rebuilding): run one after
the other, the tests used a fifth of this 2-core host's CPU over 45 minutes. Each lane is a test
session of its own, as tests/conftest.py makes one: its own resource prefix (the names and the
``dbaas.owner`` label of its containers, networks and volumes, which it alone sweeps), Redis
database, Celery queue, state directory, endpoint ports, API, worker and monitor. What changes
the host under every session runs afterwards, alone: ``tests/faults`` restarts the Docker daemon
and Redis, and test_maintenance points an engine image's tag at another build.

Lane 1 takes the e2e files that make, fail over, upgrade or copy instances the longest; lane 2
takes everything else (a new test file lands there). Both end with their slowest steps.

Usage: ``.venv/bin/python deploy/test_lanes.py`` (deploy/test.sh runs it when given no
arguments). The exit status is 0 only when every lane passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [str(ROOT / ".venv" / "bin" / "pytest"), "-p", "no:cacheprovider", "--durations=30"]

# About 15 minutes each in a serial run's measures (2026-12-01); rebalance from the slowest
# steps each lane prints.
LONGEST_E2E = [
    "tests/e2e/test_upgrades.py",
    "tests/e2e/test_copies.py",
    "tests/e2e/test_read_replicas.py",
    "tests/e2e/test_pitr.py",
    "tests/e2e/test_ha.py",
    "tests/e2e/test_snapshots.py",
    "tests/e2e/test_instance_resilience.py",
    "tests/e2e/test_logs.py",
    "tests/e2e/test_acls.py",
    "tests/e2e/test_tls.py",
]
ALONE = ["tests/faults", "tests/e2e/test_maintenance.py"]


@dataclass(frozen=True)
class Lane:
    name: str
    paths: Sequence[str]
    env: dict[str, str]


def lanes() -> tuple[list[Lane], Lane]:
    """The lanes run side by side, then the lane run alone (Redis database 15 and the default
    prefix: the fault suite restarts the Redis deploy/lab.sh runs, and skips that test on
    another)."""
    others = ["tests", *(f"--ignore={path}" for path in [*LONGEST_E2E, *ALONE])]
    side_by_side = [
        Lane("lane 1", LONGEST_E2E, _session_env(1, redis_db=14)),
        Lane("lane 2", others, _session_env(2, redis_db=13)),
    ]
    return side_by_side, Lane("alone", ALONE, {"DBAAS_TEST_PORT_SLOT": "3"})


def _session_env(slot: int, *, redis_db: int) -> dict[str, str]:
    return {
        "DBAAS_TEST_PREFIX": f"dbaast{slot}",
        "DBAAS_TEST_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "DBAAS_TEST_PORT_SLOT": str(slot),
    }


_print_lock = threading.Lock()


def _relay(lane: Lane, process: subprocess.Popen[str], tail: list[str]) -> None:
    """The lane's output, each line marked with its lane; its last lines kept for the summary."""
    assert process.stdout is not None
    for line in process.stdout:
        with _print_lock:
            sys.stdout.write(f"[{lane.name}] {line}")
            sys.stdout.flush()
        tail[:] = [*tail[-4:], line.rstrip()]


def run(group: Sequence[Lane]) -> list[tuple[Lane, int, float, str]]:
    """Runs the lanes at once; each one's exit status, minutes and pytest's closing line."""
    started = time.monotonic()
    running = []
    for lane in group:
        process = subprocess.Popen(
            [*PYTEST, *lane.paths],
            cwd=ROOT,
            env={**os.environ, **lane.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        tail: list[str] = []
        relay = threading.Thread(target=_relay, args=(lane, process, tail), daemon=True)
        relay.start()
        running.append((lane, process, relay, tail))
    results = []
    try:
        for lane, process, relay, tail in running:
            status = process.wait()
            relay.join()
            closing = next((line for line in reversed(tail) if line.startswith("=")), "")
            results.append((lane, status, (time.monotonic() - started) / 60, closing))
    finally:  # interrupted: no session is left running (each one's teardown cleans up)
        for _, process, _, _ in running:
            if process.poll() is None:
                process.terminate()
                process.wait()
    return results


def main() -> int:
    started = time.monotonic()
    side_by_side, alone = lanes()
    results = run(side_by_side)
    results += run([alone])
    print(f"\n[lanes] {(time.monotonic() - started) / 60:.1f} min in all")
    for lane, status, minutes, closing in results:
        verdict = "passed" if status == 0 else f"FAILED (exit {status})"
        print(f"[lanes] {lane.name}: {verdict} after {minutes:.1f} min {closing}")
    return 0 if all(status == 0 for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
