"""Log collection overhead, and nothing dropped from a log-heavy instance.

Usage (after deploy/lab.sh): .venv/bin/python bench/logs.py [--seconds 30] [--rounds 2]

One PostgreSQL instance (real API, worker and monitor processes) with every statement logged
(``log_statement = 'all'``), one client inserting through the endpoint in a loop. The
service's own periodic collection is switched off for the run; the benchmark alternates
windows of ``--seconds`` with a collector process making a pass every second (on; five times
more often than the service's default) and without (off), and prints the write throughput of
each and the collector's CPU time. At the end a last pass collects everything and the log must
hold as many inserts as were acknowledged (nothing dropped).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import ROOT, control_plane, isolate

isolate()
os.environ["DBAAS_LOG_COLLECT_INTERVAL_SECONDS"] = "86400"  # the benchmark drives collection

from bench.failover import PASSWORD, create_ha  # noqa: E402
from controlplane.db.base import utcnow  # noqa: E402
from controlplane.db.session import session_factory  # noqa: E402
from controlplane.logstore import get_store  # noqa: E402
from controlplane.services import log_archive  # noqa: E402
from tests.e2e.clients import CLIENTS  # noqa: E402
from tests.support.engine import superuser_connection  # noqa: E402
from tests.support.writeloop import WriteLoop  # noqa: E402
from workers import log_collector  # noqa: E402

COLLECTOR = """
import sys, time
from controlplane.db.session import session_factory
from workers import log_collector
total = 0
while True:
    total += log_collector.collect_instance(session_factory(), sys.argv[1])
    print(total, flush=True)
    time.sleep(1.0)
"""


def window(
    loop: WriteLoop, seconds: float, collecting: bool, instance_id: str
) -> tuple[float, int]:
    """(inserts per second, bytes collected) over one window; the collector runs in a process
    of its own, as the worker does."""
    collector = None
    if collecting:
        collector = subprocess.Popen([sys.executable, "-c", COLLECTOR, instance_id],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    before, started = len(loop.acknowledged), time.monotonic()
    time.sleep(seconds)
    rate = (len(loop.acknowledged) - before) / (time.monotonic() - started)
    collected = 0
    if collector is not None:
        collector.terminate()
        output, _ = collector.communicate(timeout=30)  # waited for: its CPU time is counted
        lines = output.split()
        collected = int(lines[-1]) if lines else 0
    return rate, collected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    client = CLIENTS["postgresql"]
    with control_plane() as (api_url, tenant):
        instance_id, port = create_ha(api_url, tenant, client.engine, is_ha_cluster=False)
        with closing(superuser_connection(instance_id)) as conn:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("SELECT pg_reload_conf()")
        with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
            client.create_probe_table(conn)
        loop = WriteLoop(client, "127.0.0.1", port, "bench", PASSWORD)
        writer = threading.Thread(target=loop.run, daemon=True)
        writer.start()
        loop.wait_for_progress(after=100, timeout=60)
        rates: dict[bool, list[float]] = {True: [], False: []}
        collected = 0
        try:
            for _ in range(args.rounds):
                for collecting in (False, True):
                    rate, stored = window(loop, args.seconds, collecting, instance_id)
                    rates[collecting].append(rate)
                    collected += stored
                    state = "on " if collecting else "off"
                    print(f"  collection {state}: {rate:.0f} inserts/s", flush=True)
        finally:
            loop.stop.set()
            writer.join(30)
        time.sleep(1)  # the server's log collector flushes its last lines
        collected += log_collector.collect_instance(session_factory(), instance_id)
        with session_factory()() as session:
            text = log_archive.read_days(
                session, get_store(), instance_id, "n1", [utcnow().date()]
            ).decode(errors="replace")
        # psycopg binds integers in binary on the server: the log shows each statement
        # ("execute <unnamed>: INSERT INTO probe ...") without its value; count them
        logged = len(re.findall(r"execute [^:]*: INSERT INTO probe", text))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    collector_cpu = cpu.ru_utime + cpu.ru_stime  # the collector processes (the only children)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    print("\n| collection | inserts/s (median) | windows |")
    print("|---|---|---|")
    print(f"| off | {off:.0f} | {len(rates[False])} x {args.seconds:.0f} s |")
    print(f"| on (a pass every second) | {on:.0f} ({(on / off - 1) * 100:+.1f}%) "
          f"| {len(rates[True])} x {args.seconds:.0f} s |")  # fmt: skip
    dropped = max(0, len(loop.acknowledged) - logged)
    busy = collector_cpu / (len(rates[True]) * args.seconds) * 100
    print(f"collector CPU: {collector_cpu:.1f} s over {len(rates[True]) * args.seconds:.0f} s "
          f"of collection ({busy:.1f}% of one core)")  # fmt: skip
    print(f"\ncollected {collected / 1e6:.1f} MB of log; acknowledged inserts "
          f"{len(loop.acknowledged)}, inserts in the collected log {logged} (attempts included), "
          f"dropped {dropped}")  # fmt: skip


if __name__ == "__main__":
    main()
