"""Clone and major version upgrade of an instance holding about 1 GB, next to a raw dump|load.

Usage (after deploy/lab.sh): .venv/bin/python bench/copies.py [--gigabytes 1] [--family mariadb]

For each engine family: one standalone instance of the older version (real API, worker and
monitor processes) filled through its endpoint with rows of 256 random-looking bytes until its
database holds ``--gigabytes``. Then, each timed from the request until the new instance is
ready (its row count checked):
- a clone (same version; PostgreSQL: a base backup, MariaDB: a dump and load),
- a major version upgrade (PostgreSQL 15 -> 17: dump/restore; MariaDB 10.11 -> 11.8: dump,
  load, mariadb-upgrade),
- the baseline, in the same run: ``pg_dump | psql`` / ``mariadb-dump | mariadb`` of the same
  database by the newer version's client into a bare server of the newer version started with
  ``docker run`` (no TLS, no users, no HA, no endpoint).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.harness import control_plane, isolate

isolate()

import docker  # noqa: E402
import httpx  # noqa: E402

from bench.baselines import PASSWORD as RAW_PASSWORD  # noqa: E402
from bench.baselines import _free_port, first_query  # noqa: E402
from bench.failover import PASSWORD, create_ha  # noqa: E402
from tests.e2e.clients import CLIENTS, EngineClient  # noqa: E402
from tests.support import tenants  # noqa: E402
from tests.support.engine import blueprint  # noqa: E402
from workers.blueprint import connection  # noqa: E402

NEWER = {"PostgreSQL-15": ("PostgreSQL-17", "17"), "MariaDB-10.11": ("MariaDB-11.8", "11.8")}
OLDER = {"postgresql": "PostgreSQL-15", "mariadb": "MariaDB-10.11"}
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


def _query(client: EngineClient, port: int, sql: str) -> Any:
    with closing(client.connect("127.0.0.1", port, "bench", PASSWORD, timeout=30)) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        conn.commit()
        return row[0] if row else None


def fill(family: str, client: EngineClient, port: int, gigabytes: float) -> tuple[int, int]:
    """Rows until the database holds ``gigabytes``; (rows, bytes)."""
    _query(client, port, "CREATE TABLE big (id BIGINT PRIMARY KEY, payload TEXT)")
    rows = 0
    while (size := int(_query(client, port, SIZE[family]) or 0)) < gigabytes * 1e9:
        sql = FILL[family] % {"first": rows + 1, "last": rows + CHUNK}
        _query(client, port, sql)
        rows += CHUNK
    return rows, size


def _instances(api_url: str) -> str:
    return f"{api_url}/rdb/v1/regions/fr-par/instances"


def _until_ready(api_url: str, tenant: tenants.Tenant, instance_id: str) -> dict[str, Any]:
    while True:
        got = httpx.get(f"{_instances(api_url)}/{instance_id}", headers=tenant.headers)
        body: dict[str, Any] = got.json()
        if body["status"] == "ready":
            return body
        if body["status"] == "error":
            raise RuntimeError(f"instance {instance_id} failed")
        time.sleep(0.5)


def _delete(api_url: str, tenant: tenants.Tenant, instance_id: str) -> None:
    url = f"{_instances(api_url)}/{instance_id}"
    httpx.delete(url, headers=tenant.headers).raise_for_status()
    while httpx.get(url, headers=tenant.headers).status_code != 404:
        time.sleep(0.5)


def timed_copy(
    api_url: str, tenant: tenants.Tenant, client: EngineClient, source_id: str, path: str,
    body: dict[str, object], rows: int,
) -> float:  # fmt: skip
    """A request making a new instance; seconds until it is ready, holding every row."""
    started = time.monotonic()
    url = f"{_instances(api_url)}/{source_id}/{path}"
    new = httpx.post(url, headers=tenant.headers, json=body).raise_for_status().json()
    ready = _until_ready(api_url, tenant, new["id"])
    elapsed = time.monotonic() - started
    try:
        count = _query(client, ready["endpoints"][0]["port"], "SELECT COUNT(*) FROM big")
        assert int(count) == rows, f"the new instance holds {count} rows of {rows}"
    finally:
        _delete(api_url, tenant, new["id"])
    return elapsed


def _conninfo(**parts: object) -> str:
    return " ".join(
        f"{k}='{str(v).replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"
        for k, v in parts.items()
    )


def raw_dump_load(family: str, source_id: str, newer_version: str, rows: int) -> float:
    """The newer version's client pipes the database into a bare newer server; seconds."""
    bp = blueprint(source_id)
    src = connection(bp, bp.primary)  # the main node's admin port, on 127.0.0.1
    docker_client = docker.from_env()
    port = _free_port()
    labels = {"dbaas.owner": "dbaasb"}
    if family == "postgresql":
        image = f"dbaas/postgresql:{newer_version}"
        server = (
            f"printf %s '{RAW_PASSWORD}' > /tmp/pw && initdb -D /tmp/data --pwfile=/tmp/pw "
            "-U postgres --auth=scram-sha-256 >/dev/null && "
            "echo 'host all all all scram-sha-256' >> /tmp/data/pg_hba.conf && "
            "exec postgres -D /tmp/data -c listen_addresses='*'"
        )
        target = _conninfo(host="127.0.0.1", port=port, user="postgres", password=RAW_PASSWORD)
        source = _conninfo(host=src.host, port=src.port, user=src.user, password=src.password,
                           dbname="rdb", sslmode="prefer")  # fmt: skip
        pipe = (
            f"psql {shlex.quote(target + ' dbname=postgres')} -X -q -c 'CREATE DATABASE rdb' && "
            f"pg_dump {shlex.quote(source)} --no-owner --no-privileges | "
            f"psql {shlex.quote(target + ' dbname=rdb')} -X -q -v ON_ERROR_STOP=1"
        )
        user = "postgres"
    else:
        image = f"dbaas/mariadb:{newer_version}"
        server = (
            "mariadb-install-db --user=mysql --skip-test-db "
            "--auth-root-authentication-method=socket --datadir=/tmp/data >/dev/null && "
            "(mariadbd --datadir=/tmp/data --bind-address=0.0.0.0 --max-allowed-packet=1G &) && "
            "until mariadb-admin ping --silent 2>/dev/null; do sleep 0.05; done && "
            f"mariadb -e \"CREATE USER bench@'%' IDENTIFIED BY '{RAW_PASSWORD}'; "
            "GRANT ALL ON *.* TO bench@'%'\" && sleep infinity"
        )
        tls = "--ssl --skip-ssl-verify-server-cert"
        pipe = (
            f"mariadb-dump -h {src.host} -P {src.port} -u {shlex.quote(src.user)} "
            f"--password={shlex.quote(src.password)} {tls} --single-transaction "
            "--max-allowed-packet=1G --databases rdb | "
            f"mariadb -h 127.0.0.1 -P {port} -u bench --password={shlex.quote(RAW_PASSWORD)} "
            "--skip-ssl --max-allowed-packet=1G"
        )
        user = "mysql"
    engine = "PostgreSQL" if family == "postgresql" else "MariaDB"
    raw_user = "postgres" if family == "postgresql" else "bench"
    server_container = docker_client.containers.run(
        image, ["sh", "-c", server], detach=True, user=user,
        ports={f"{bp.runtime.port}/tcp": ("127.0.0.1", port)}, labels=labels,
    )  # fmt: skip
    try:
        assert first_query(engine, "127.0.0.1", port, raw_user, RAW_PASSWORD, timeout=90)
        started = time.monotonic()
        docker_client.containers.run(
            image, ["bash", "-o", "pipefail", "-c", pipe], network_mode="host", remove=True,
            labels=labels, user=user,
        )  # fmt: skip
        return time.monotonic() - started
    finally:
        server_container.remove(force=True)


def measure(
    api_url: str, tenant: tenants.Tenant, family: str, gigabytes: float
) -> dict[str, float]:
    client = CLIENTS[family]
    engine = OLDER[family]
    newer, newer_version = NEWER[engine]
    volume = {"volume_type": "sbs_5k", "volume_size": 20_000_000_000, "is_ha_cluster": False}
    source_id, port = create_ha(api_url, tenant, engine, **volume)
    try:
        started = time.monotonic()
        rows, size = fill(family, client, port, gigabytes)
        print(f"  filled {size / 1e9:.2f} GB ({rows} rows) in {time.monotonic() - started:.0f} s",
              flush=True)  # fmt: skip
        source = _until_ready(api_url, tenant, source_id)
        (target,) = [v for v in source["upgradable_version"] if v["name"] == newer]
        result = {"size": size / 1e9}
        result["raw"] = raw_dump_load(family, source_id, newer_version, rows)
        print(f"  raw dump|load into {newer}: {result['raw']:.1f} s", flush=True)
        result["clone"] = timed_copy(api_url, tenant, client, source_id, "clone",
                                     {"name": "bench-clone"}, rows)  # fmt: skip
        print(f"  clone: {result['clone']:.1f} s", flush=True)
        result["upgrade"] = timed_copy(api_url, tenant, client, source_id, "upgrade",
                                       {"upgradable_version_id": target["id"]}, rows)  # fmt: skip
        print(f"  major upgrade to {newer}: {result['upgrade']:.1f} s", flush=True)
        return result
    finally:
        _delete(api_url, tenant, source_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--family", action="append", choices=sorted(CLIENTS))
    args = parser.parse_args()
    rows = []
    with control_plane() as (api_url, tenant):
        for family in args.family or sorted(CLIENTS):
            print(f"{OLDER[family]}:", flush=True)
            rows.append((family, measure(api_url, tenant, family, args.gigabytes)))  # type: ignore[arg-type]
    print("\n| source | data | clone | major upgrade | raw dump and load (same run) |")
    print("|---|---|---|---|---|")
    for family, r in rows:
        newer = NEWER[OLDER[family]][0]
        print(f"| {OLDER[family]} | {r['size']:.2f} GB | {r['clone']:.1f} s "
              f"| {r['upgrade']:.1f} s (to {newer}) | {r['raw']:.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
