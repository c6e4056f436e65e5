"""Point-in-time recovery (an extension endpoint; PostgreSQL and MariaDB): rows committed one by
one around a snapshot (the base backup), the WAL / binlogs archived continuously into the store,
then a new instance restored to a time between two commits holds exactly the rows committed
before it."""

from __future__ import annotations

import subprocess
import time
from contextlib import closing, suppress
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from scaleway.rdb.v1 import RdbV1API

from controlplane.db.session import session_factory
from controlplane.logstore import get_store
from tests.e2e.clients import CLIENTS
from tests.support.engine import blueprint, superuser_connection
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete, exists
from tests.support.tenants import Tenant
from workers import binlog_archive, wal_archive
from workers.blueprint import connection
from workers.wal_archive import wal_prefix

pytestmark = pytest.mark.docker
BASE = "/rdb/v1/regions/fr-par"


def _commit(live: Live, row_id: int) -> None:
    with closing(live.client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
        live.client.insert_committed(conn, row_id)


def _rows(live: Live) -> list[int]:
    with closing(live.client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
        return sorted(live.client.probe_ids(conn))


def _archive_prefix(family: str, instance_id: str) -> str:
    if family == "postgresql":
        return wal_prefix(instance_id)
    return binlog_archive.binlog_prefix(instance_id)


def _archived(family: str, instance_id: str, timeout: float = 60) -> list[str]:
    """The store's archived WAL files (a segment, not a history) or binlogs of the instance,
    once it holds one: the worker's periodic collector stores them."""
    deadline = time.monotonic() + timeout
    while True:
        names = [o.key for o in get_store().objects(_archive_prefix(family, instance_id))]
        if family == "mariadb" and names:
            return names
        if any(len(n.rsplit("/", 1)[-1]) == 24 for n in names):
            return names
        assert time.monotonic() < deadline, "nothing was ever archived"
        time.sleep(1)


def _seal(family: str, instance_id: str) -> None:
    """The current WAL segment / binlog closed, as the service's superuser."""
    if family == "postgresql":
        with closing(superuser_connection(instance_id)) as conn:
            conn.execute("SELECT pg_switch_wal()")
        return
    bp = blueprint(instance_id)
    bp.agent.seal_archive(connection(bp, bp.primary), 10)


@pytest.mark.parametrize("family", ["postgresql", "mariadb"])
def test_restore_to_time(rdb: RdbV1API, api_url: str, tenant: Tenant, family: str) -> None:
    http = httpx.Client(
        base_url=api_url + BASE, timeout=60, headers={"X-Auth-Token": tenant.secret_key}
    )

    def restore(instance_id: str, name: str, target: datetime) -> httpx.Response:
        body = {"name": name, "target_time": target.isoformat()}
        return http.post(f"/instances/{instance_id}/restore-to-time", json=body)

    source = create(rdb, CLIENTS[family], f"pitr-src-{family}", ha=False)
    made, snapshot_id = [source.instance_id], None
    try:
        for row in (1, 2):
            _commit(source, row)
        before_backup = datetime.now(UTC)
        refused = restore(source.instance_id, "pitr-early", before_backup)
        assert refused.status_code == 400, refused.text  # no base backup yet
        assert refused.json()["type"] == "invalid_arguments"
        assert "target_time" in refused.json()["details"][0]["argument_name"]

        taken = rdb.create_snapshot(instance_id=source.instance_id, name="pitr-base")
        snapshot_id = taken.id
        assert rdb.wait_for_snapshot(snapshot_id=taken.id, options=wait()).status == "ready"
        rdb.wait_for_instance(instance_id=source.instance_id, options=wait())
        time.sleep(1)
        for row in (3, 4, 5):
            _commit(source, row)
            time.sleep(0.3)
        time.sleep(0.5)
        target = datetime.now(UTC)  # after row 5's commit, before row 6's
        # Binlog events carry whole seconds and the target is truncated to its second: the
        # next commit is more than a second later, so it falls in a later second.
        time.sleep(1.1)
        for row in (6, 7):
            _commit(source, row)
        _seal(family, source.instance_id)
        _archived(family, source.instance_id)  # collected into the store, encrypted

        future = restore(source.instance_id, "pitr-future", datetime.now(UTC) + timedelta(hours=1))
        assert future.status_code == 400 and future.json()["type"] == "invalid_arguments"
        too_early = restore(source.instance_id, "pitr-early", before_backup)
        assert too_early.status_code == 400, too_early.text  # before the base backup

        started = time.monotonic()
        created = restore(source.instance_id, "pitr-restored", target)
        assert created.status_code == 200, created.text
        new = created.json()
        made.append(new["id"])
        assert new["status"] == "provisioning" and new["name"] == "pitr-restored"
        ready = rdb.wait_for_instance(instance_id=new["id"], options=wait())
        if ready.status != "ready":  # the job's error, and the engine's own words
            operations = http.get(f"/instances/{new['id']}/operations").text
            engine = subprocess.run(
                ["sh", "-c", f"docker logs $(docker ps -aq --filter name={new['id'][:8]})"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            pytest.fail(f"restore ended {ready.status}: {operations}\n{engine.stderr[-3000:]}")
        restore_seconds = time.monotonic() - started
        restored = Live(new["id"], ready.endpoints[0].port, source.client)
        assert _rows(restored) == [1, 2, 3, 4, 5]  # exactly those committed before the target
        _commit(restored, 100)  # a primary of its own, with the source's users and passwords
        if family == "postgresql":
            with closing(superuser_connection(new["id"], "rdb")) as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
                # The recovery settings and segments went once it ended (an HA standby cloned
                # from this node later must not stop at the target time).
                listed = conn.execute("SELECT pg_ls_dir('conf.d')").fetchall()
                assert ("zz-pitr.conf",) not in listed and listed
                gone = conn.execute("SELECT pg_stat_file('/var/lib/postgresql/wal-restore', true)")
                assert gone.fetchone() == (None,)
        assert _rows(source) == [1, 2, 3, 4, 5, 6, 7]  # the source untouched
        assert rdb.get_snapshot(snapshot_id=taken.id).status == "ready"  # released
        print(f"PITR restore ({family}): {restore_seconds:.1f} s")

        # Without a snapshot to start from, the archive goes (and is no longer stored).
        rdb.delete_snapshot(snapshot_id=taken.id)
        snapshot_id = None
        deadline = time.monotonic() + 60
        while rdb.list_snapshots(instance_id=source.instance_id).total_count:
            assert time.monotonic() < deadline, "the snapshot was never deleted"
            time.sleep(0.5)
        wal_archive.expire(session_factory())
        binlog_archive.expire(session_factory())
        assert not get_store().objects(_archive_prefix(family, source.instance_id))
    finally:
        for instance_id in made:
            with suppress(Exception):
                if exists(instance_id):
                    delete(rdb, instance_id)
        if snapshot_id is not None:
            with suppress(Exception):
                rdb.delete_snapshot(snapshot_id=snapshot_id)
        http.close()
