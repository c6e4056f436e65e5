"""Every test, in lanes: test sessions side by side, then the tests that change the host under
every session, alone.

A test session mostly waits on containers (starting, failing over, rebuilding): run one after
the other, the tests used a fifth of this 2-core host's CPU over 45 minutes. Each lane is a test
session of its own, as tests/conftest.py makes one: its own resource prefix (the names and the
``dbaas.owner`` label of its containers, networks and volumes, which it alone sweeps), Redis
database, Celery queue, state directory, endpoint ports, API, worker and monitor. Tests marked
``host_wide`` (restarting Docker or Redis, re-tagging an engine image) run afterwards, alone.

The first lane takes the files named for it; the last lane takes every other file, so a new
test file lands there. Each lane ends with its slowest steps, and the run with each lane's
slowest files: rebalance from those.

Usage: ``.venv/bin/python deploy/test_lanes.py`` (deploy/test.sh runs it when given no
arguments). The exit status is 0 only when every lane passed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [str(ROOT / ".venv" / "bin" / "pytest"), "-p", "no:cacheprovider", "--durations=30"]

HOST_WIDE = "host_wide"  # the marker of the tests run alone

# Minutes each file took in lane 1 (2026-12-01), to keep the two lanes about even: they took
# 28.8 and 28.4. Three lanes ran nothing sooner: every test took about twice as long (the 2
# cores were always busy).
NAMED_LANES = [
    [
        "tests/faults",  # 14, of which the 20 failovers in a row per engine 7
        "tests/e2e/test_upgrades.py",  # 4.3
        "tests/e2e/test_ha.py",  # 2.8
        "tests/e2e/test_read_replicas.py",  # 3
        "tests/e2e/test_copies.py",  # 2.5
        "tests/e2e/test_tls.py",  # 1.9
    ],
]


@dataclass(frozen=True)
class Lane:
    name: str
    arguments: Sequence[str]
    env: dict[str, str]


def lanes() -> tuple[list[Lane], Lane]:
    """The lanes run side by side, then the one run alone: on Redis database 15 and the default
    prefix, as a single session runs (the fault suite restarts the Redis deploy/lab.sh runs,
    and skips that test on another database)."""
    named = [path for paths in NAMED_LANES for path in paths]
    every_other = ["tests", *(f"--ignore={path}" for path in named)]
    side_by_side = [
        Lane(f"lane {slot}", [*paths, "-m", f"not {HOST_WIDE}"], _session_env(slot))
        for slot, paths in enumerate([*NAMED_LANES, every_other], start=1)
    ]
    alone = Lane("alone", ["tests", "-m", HOST_WIDE], {"DBAAS_TEST_PORT_SLOT": "0"})
    return side_by_side, alone


def _session_env(slot: int) -> dict[str, str]:
    return {
        "DBAAS_TEST_PREFIX": f"dbaast{slot}",
        "DBAAS_TEST_REDIS_URL": f"redis://127.0.0.1:6379/{15 - slot}",
        "DBAAS_TEST_PORT_SLOT": str(slot),
    }


@dataclass
class Outcome:
    lane: Lane
    status: int
    minutes: float
    closing: str  # pytest's last line: what passed and failed
    files: Counter[str]  # seconds by test file


_print_lock = threading.Lock()


@dataclass
class _Output:
    """What a lane printed last, and when its output ended (lanes end in any order)."""

    tail: list[str]
    ended: float = 0.0


def _relay(lane: Lane, process: subprocess.Popen[str], output: _Output) -> None:
    """The lane's output, each line marked with its lane."""
    assert process.stdout is not None
    for line in process.stdout:
        with _print_lock:
            sys.stdout.write(f"[{lane.name}] {line}")
            sys.stdout.flush()
        output.tail[:] = [*output.tail[-4:], line.rstrip()]
    output.ended = time.monotonic()


def _seconds_by_file(report: Path) -> Counter[str]:
    """From pytest's JUnit report: each file's time (setup, call and teardown of its tests)."""
    seconds: Counter[str] = Counter()
    if report.exists():
        for case in ElementTree.parse(report).iter("testcase"):
            module = case.get("classname", "").split("[")[0]
            path = "/".join(part for part in module.split(".") if not part[:1].isupper())
            seconds[f"{path}.py"] += float(case.get("time", 0))
    return seconds


def run(group: Sequence[Lane], reports: Path) -> list[Outcome]:
    """Runs the lanes at once and waits for all of them."""
    started = time.monotonic()
    running = []
    for lane in group:
        report = reports / f"{lane.name.replace(' ', '-')}.xml"
        process = subprocess.Popen(
            [*PYTEST, f"--junitxml={report}", *lane.arguments],
            cwd=ROOT,
            env={**os.environ, **lane.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        output = _Output([])
        relay = threading.Thread(target=_relay, args=(lane, process, output), daemon=True)
        relay.start()
        running.append((lane, process, relay, output, report))
    outcomes = []
    try:
        for lane, process, relay, output, report in running:
            status = process.wait()
            relay.join()
            closing = next((line for line in reversed(output.tail) if line.startswith("=")), "")
            minutes = (output.ended - started) / 60
            outcomes.append(Outcome(lane, status, minutes, closing, _seconds_by_file(report)))
    finally:  # interrupted: each session is stopped as Ctrl-C stops it, running its teardown
        for _, process, _, _, _ in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for _, process, _, _, _ in running:
            try:
                process.wait(timeout=300)
            except subprocess.TimeoutExpired:
                process.kill()
    return outcomes


def main() -> int:
    started = time.monotonic()
    side_by_side, alone = lanes()
    with tempfile.TemporaryDirectory(prefix="dbaas-lanes-") as reports:
        outcomes = run(side_by_side, Path(reports))
        outcomes += run([alone], Path(reports))
    print(f"\n[lanes] {(time.monotonic() - started) / 60:.1f} min in all")
    for outcome in outcomes:
        verdict = "passed" if outcome.status == 0 else f"FAILED (exit {outcome.status})"
        print(f"[lanes] {outcome.lane.name}: {verdict} after {outcome.minutes:.1f} min "
              f"{outcome.closing}")  # fmt: skip
        slowest = ", ".join(
            f"{path} {seconds / 60:.1f}" for path, seconds in outcome.files.most_common(8)
        )
        print(f"[lanes]   slowest files (min): {slowest}")
    return 0 if all(outcome.status == 0 for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
