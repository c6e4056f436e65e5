"""Logical backup and restore throughput through the API, next to the raw dump tools in the
same run; and the main node's write throughput while a backup runs vs idle.

Usage (after deploy/lab.sh): .venv/bin/python bench/backups.py [--size 1] [--family mariadb]
(DBAAS_BENCH_PREFIX / DBAAS_BENCH_REDIS_DB to run beside another benchmark)

For each engine family: one standalone instance (real API, worker and monitor processes) whose
``rdb`` database is filled with rows of 256 random-looking bytes to ``--size`` GB. Then:
- idle writes: one client inserting and committing a row at a time through the endpoint;
- backup: ``create_database_backup`` until ``ready`` (dump, encryption, store), the same
  writer running meanwhile (on a standalone instance the dump runs on the main node);
- restore: ``restore_database_backup`` into a new database until the backup is ``ready`` and
  the instance too (fetch, checksum, decryption, copy into the node, load), rows checked;
- raw, in the same run, inside the node container: the same dump command into a file, then
  ``pg_restore`` / ``mariadb`` of it into a new database.
- snapshot and point-in-time restores: a snapshot (``create_snapshot`` until ``ready``), a few
  commits after it, then the time from ``create_instance_from_snapshot`` and from
  ``restore-to-time`` (a time after those commits: the archived WAL / binlogs replayed) to the
  new instance answering a query through its endpoint, rows checked.
Throughput is the database's size (MB, 10^6 bytes) divided by the elapsed time.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()

import docker  # noqa: E402
import httpx  # noqa: E402
import psycopg  # noqa: E402
import pymysql  # noqa: E402

from agents.base import SUPERUSER  # noqa: E402
from bench.failover import PASSWORD, create_ha  # noqa: E402
from tests.e2e.clients import CLIENTS, EngineClient  # noqa: E402
from tests.support import tenants  # noqa: E402
from tests.support.engine import blueprint  # noqa: E402
from workers.backup_jobs import PG_SOCKET, dump_command  # noqa: E402
from workers.blueprint import Blueprint, connection  # noqa: E402

ENGINE = {"postgresql": "PostgreSQL-15", "mariadb": "MariaDB-10.11"}
CHUNK = 250_000  # rows per fill statement (about 75 MB)
FILL = {
    "postgresql": "INSERT INTO big SELECT g, repeat(md5(g::text), 8) "
    "FROM generate_series(%(first)s, %(last)s) AS g",
    "mariadb": "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 8) FROM seq_%(first)s_to_%(last)s",
}
SIZE = {
    "postgresql": "SELECT pg_database_size('rdb')",
    "mariadb": "SELECT SUM(data_length + index_length) FROM information_schema.tables "
    "WHERE table_schema = 'rdb'",
}
IDLE_SECONDS = 10
RAW_DIR = ".dbaas-bench-raw"


class Api:
    def __init__(self, url: str, tenant: tenants.Tenant) -> None:
        self.url, self.tenant = url, tenant
        self.base, self.headers = f"{url}/rdb/v1/regions/fr-par", tenant.headers

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        got = httpx.request(method, f"{self.base}/{path}", headers=self.headers, json=body,
                            timeout=30).raise_for_status()  # fmt: skip
        return got.json() if got.content else None

    def until(self, path: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while not done(body := self.call("GET", path)):
            if body["status"] == "error":
                raise RuntimeError(f"{path} failed: {body}")
            time.sleep(0.2)
        return body

    def delete_instance(self, instance_id: str) -> None:
        self.call("DELETE", f"instances/{instance_id}")
        while httpx.get(f"{self.base}/instances/{instance_id}",
                        headers=self.headers).status_code != 404:  # fmt: skip
            time.sleep(0.5)


def _query(client: EngineClient, port: int, sql: str) -> Any:
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD, timeout=30)) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        conn.commit()
        return row[0] if row else None


def _count(family: str, port: int, database: str) -> int:
    """Rows of ``big`` in another database than the clients' rdb."""
    where = {"host": "127.0.0.1", "port": port, "user": "bench", "password": PASSWORD}
    if family == "postgresql":
        with psycopg.connect(**where, dbname=database) as conn:  # type: ignore[arg-type]
            row = conn.execute("SELECT COUNT(*) FROM big").fetchone()
    else:
        with closing(pymysql.connect(**where, database=database)) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM big")
            row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _size(family: str, client: EngineClient, port: int) -> int:
    if family == "mariadb":  # InnoDB's table statistics lag behind the inserts
        _query(client, port, "ANALYZE TABLE big")
    return int(_query(client, port, SIZE[family]) or 0)


def fill(family: str, client: EngineClient, port: int, gigabytes: float) -> tuple[int, int]:
    """Rows until the database holds ``gigabytes``; (rows, bytes)."""
    _query(client, port, "CREATE TABLE big (id BIGINT PRIMARY KEY, payload TEXT)")
    rows = 0
    while (size := _size(family, client, port)) < gigabytes * 1e9:
        _query(client, port, FILL[family] % {"first": rows + 1, "last": rows + CHUNK})
        rows += CHUNK
    return rows, size


class Writer:
    """One client committing one row at a time through the endpoint, in a thread."""

    def __init__(self, client: EngineClient, port: int) -> None:
        self.client, self.port = client, port
        self.commits, self.offset, self.stopping = 0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with closing(self.client.connect("127.0.0.1", self.port, "bench", PASSWORD)) as conn:
            while not self.stopping.is_set():
                self.commits += 1  # ids need only be distinct
                self.client.insert_committed(conn, self.commits + self.offset)

    def rate(self, until: Callable[[], object], offset: int) -> float:
        """Commits per second while ``until()`` runs."""
        self.offset = offset
        self.thread.start()
        started = time.monotonic()
        try:
            until()
        finally:
            self.stopping.set()
            self.thread.join(30)
        return self.commits / (time.monotonic() - started)


def _exec(bp: Blueprint, script: str, *args: str) -> None:
    """``bash -c script`` in the main node as the engine's OS user, arguments positional."""
    env = {"PGPASSWORD": bp.superuser_password} if bp.agent.family == "postgresql" else {}
    container = docker.from_env().containers.get(bp.container(bp.primary))
    result = container.exec_run(["bash", "-o", "pipefail", "-c", script, "raw", *args],
                                user=bp.runtime.user, environment=env)  # fmt: skip
    if result.exit_code != 0:
        raise RuntimeError(f"{script}: {result.output.decode(errors='replace')[-500:]}")


def raw(bp: Blueprint) -> tuple[float, float]:
    """(dump seconds, restore seconds) of the same dump command into a file in the node, then
    its load into a new database ``rdb_raw``; all removed afterwards."""
    folder = f"{bp.runtime.data_mount}/{RAW_DIR}"
    dump = f"{folder}/rdb.dump"
    argv, _, _ = dump_command(bp, "rdb")
    _exec(bp, 'mkdir -p "$1"', folder)
    try:
        started = time.monotonic()
        _exec(bp, 'out="$1"; shift; "$@" > "$out"', dump, *argv)
        dumped = time.monotonic() - started
        conn = connection(bp, bp.primary)
        bp.agent.create_database(conn, "rdb_raw")
        started = time.monotonic()
        if bp.agent.family == "postgresql":
            load = 'pg_restore -h "$1" -p "$2" -U "$3" --no-owner --no-acl -e -d rdb_raw "$4"'
            _exec(bp, load, PG_SOCKET, str(bp.runtime.port), SUPERUSER, dump)
        else:
            _exec(bp, 'exec mariadb --batch --database=rdb_raw < "$1"', dump)
        restored = time.monotonic() - started
        bp.agent.drop_database(connection(bp, bp.primary), "rdb_raw")
        return dumped, restored
    finally:
        _exec(bp, 'rm -rf "$1"', folder)


def _answering(api: Api, family: str, instance_id: str) -> int:
    """Waits for a new instance to be ready and answer a query; the rows of ``big`` it holds."""
    body = api.until(f"instances/{instance_id}", lambda i: i["status"] == "ready")
    port = int(body["endpoints"][0]["port"])
    while True:
        try:
            return int(_query(CLIENTS[family], port, "SELECT COUNT(*) FROM big"))
        except Exception:  # not answering yet (its load balancer settling)
            time.sleep(0.2)


def restores(api: Api, family: str, instance_id: str, rows: int) -> dict[str, float]:
    """(seconds) snapshot taken; new instance from it; new instance restored to a time after it
    (archived log replayed): each from the request to the new instance answering a query."""
    made: list[str] = []
    started = time.monotonic()
    snapshot_id = api.call("POST", f"instances/{instance_id}/snapshots", {"name": "bench"})["id"]
    try:
        api.until(f"snapshots/{snapshot_id}", lambda s: s["status"] == "ready")
        api.until(f"instances/{instance_id}", lambda i: i["status"] == "ready")
        r = {"snapshot": time.monotonic() - started}
        port = int(api.call("GET", f"instances/{instance_id}")["endpoints"][0]["port"])
        time.sleep(1.1)  # binlog events carry whole seconds: these land after the snapshot's
        for row in range(rows + 1, rows + 4):
            _query(CLIENTS[family], port, f"INSERT INTO big VALUES ({row}, 'after')")
        time.sleep(1.1)
        target = datetime.now(UTC).isoformat()
        started = time.monotonic()
        body = {"instance_name": "bench-from-snapshot", "is_ha_cluster": False}
        made.append(api.call("POST", f"snapshots/{snapshot_id}/create-instance", body)["id"])
        count = _answering(api, family, made[-1])
        assert count == rows, f"the snapshot's instance holds {count} rows of {rows}"
        r["from_snapshot"] = time.monotonic() - started
        api.until(f"snapshots/{snapshot_id}", lambda s: s["status"] == "ready")
        started = time.monotonic()
        body = {"name": "bench-pitr", "target_time": target}
        made.append(api.call("POST", f"instances/{instance_id}/restore-to-time", body)["id"])
        count = _answering(api, family, made[-1])
        assert count == rows + 3, f"the restored instance holds {count} rows of {rows + 3}"
        r["pitr"] = time.monotonic() - started
        return r
    finally:
        for made_id in made:
            api.until(f"instances/{made_id}", lambda i: i["status"] in ("ready", "error"))
            api.delete_instance(made_id)
        api.until(f"snapshots/{snapshot_id}", lambda s: s["status"] in ("ready", "error"))
        api.call("DELETE", f"snapshots/{snapshot_id}")


def measure(api: Api, family: str, gigabytes: float) -> dict[str, float]:
    client = CLIENTS[family]
    instance_id, port = create_ha(api.url, api.tenant, ENGINE[family], is_ha_cluster=False)
    backup_id = None
    try:
        started = time.monotonic()
        rows, size = fill(family, client, port, gigabytes)
        print(f"  filled {size / 1e9:.2f} GB ({rows} rows) in {time.monotonic() - started:.0f} s",
              flush=True)  # fmt: skip
        with closing(client.connect("127.0.0.1", port, "bench", PASSWORD)) as conn:
            client.create_probe_table(conn)
        r: dict[str, float] = {"size": size / 1e6}
        r["idle"] = Writer(client, port).rate(lambda: time.sleep(IDLE_SECONDS), 0)
        print(f"  idle writes: {r['idle']:.0f} commits/s", flush=True)

        def backup() -> None:
            nonlocal backup_id
            started = time.monotonic()
            body = {"instance_id": instance_id, "database_name": "rdb", "name": "bench"}
            backup_id = api.call("POST", "backups", body)["id"]
            api.until(f"backups/{backup_id}", lambda b: b["status"] == "ready")
            r["backup"] = time.monotonic() - started

        r["during"] = Writer(client, port).rate(backup, 10_000_000)
        print(f"  backup: {r['backup']:.1f} s, writes meanwhile {r['during']:.0f} commits/s",
              flush=True)  # fmt: skip
        started = time.monotonic()
        api.call("POST", f"backups/{backup_id}/restore",
                 {"instance_id": instance_id, "database_name": "rdb_restored"})  # fmt: skip
        api.until(f"backups/{backup_id}", lambda b: b["status"] == "ready")
        api.until(f"instances/{instance_id}", lambda i: i["status"] == "ready")
        r["restore"] = time.monotonic() - started
        count = _count(family, port, "rdb_restored")
        assert int(count) == rows, f"the restored database holds {count} rows of {rows}"
        print(f"  restore: {r['restore']:.1f} s ({count} rows checked)", flush=True)
        r["raw_dump"], r["raw_restore"] = raw(blueprint(instance_id))
        print(f"  raw dump {r['raw_dump']:.1f} s, raw restore {r['raw_restore']:.1f} s",
              flush=True)  # fmt: skip
        r.update(restores(api, family, instance_id, rows))
        print(f"  snapshot {r['snapshot']:.1f} s; to a new instance answering a query: from the "
              f"snapshot {r['from_snapshot']:.1f} s, to a time (PITR) {r['pitr']:.1f} s",
              flush=True)  # fmt: skip
        return r
    finally:
        if backup_id:
            api.until(f"backups/{backup_id}", lambda b: b["status"] in ("ready", "error"))
            api.call("DELETE", f"backups/{backup_id}")
        api.delete_instance(instance_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=1.0, help="GB in the database (default 1)")
    parser.add_argument("--family", action="append", choices=sorted(ENGINE))
    args = parser.parse_args()
    results = []
    with control_plane() as (api_url, tenant):
        api = Api(api_url, tenant)  # type: ignore[arg-type]
        for family in args.family or sorted(ENGINE):
            print(f"{ENGINE[family]}:", flush=True)
            results.append((family, measure(api, family, args.size)))
    print(
        "\n| engine | data | backup (API) | raw dump | restore (API) | raw restore "
        "| writes idle | writes during backup | snapshot | snapshot restore | PITR restore |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for family, r in results:
        mb = r["size"]
        print(f"| {ENGINE[family]} | {mb / 1e3:.2f} GB "
              f"| {mb / r['backup']:.0f} MB/s ({r['backup']:.1f} s) "
              f"| {mb / r['raw_dump']:.0f} MB/s ({r['raw_dump']:.1f} s) "
              f"| {mb / r['restore']:.0f} MB/s ({r['restore']:.1f} s) "
              f"| {mb / r['raw_restore']:.0f} MB/s ({r['raw_restore']:.1f} s) "
              f"| {r['idle']:.0f} commits/s | {r['during']:.0f} commits/s "
              f"| {r['snapshot']:.1f} s | {r['from_snapshot']:.1f} s "
              f"| {r['pitr']:.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
