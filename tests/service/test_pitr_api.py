"""Restore to a time (an extension endpoint) on row-only instances and snapshots (no worker):
its guards, and what a valid request records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete

from controlplane.api.schemas.pitr import RestoreToTimeRequest
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Node, Operation, Snapshot
from controlplane.db.session import session_factory, session_scope
from controlplane.services import pitr
from controlplane.services.snapshots import source_of
from controlplane.services.tenancy import authenticate
from tests.support import rows
from tests.support.rows import instance_row
from tests.support.tenants import new_tenant
from workers import wal_archive
from workers.runner import OperationContext

BASE = "/rdb/v1/regions/fr-par"


@pytest.fixture(scope="module")
def world(api_url: str) -> Iterator[tuple[httpx.Client, str, str, str]]:
    tenant = new_tenant("pitr")
    postgres, mariadb = instance_row(tenant, name="pitr-pg"), instance_row(tenant, name="pitr-my")
    now = utcnow()
    with session_scope() as session:
        source = session.get(Instance, postgres)
        other = session.get(Instance, mariadb)
        assert source is not None and other is not None
        other.engine = "MariaDB-10.11"
        base = Snapshot(
            organization_id=tenant.organization_id, project_id=tenant.project_id,
            region="fr-par", instance_id=postgres, instance_name="pitr-pg", name="base",
            status="ready", engine="PostgreSQL-15", node_type="db-dev-s", volume_type="lssd",
            source=source_of(source), size=1000, object_key="snapshots/x", checksum="0" * 64,
            created_at=now - timedelta(minutes=12), updated_at=now - timedelta(minutes=10),
            expires_at=now + timedelta(days=1),
        )  # fmt: skip
        session.add(base)
        session.flush()
        snapshot_id = base.id
        session.add(
            Operation(kind="create_snapshot", resource_type="snapshot", resource_id=base.id,
                      status="succeeded", finished_at=now - timedelta(minutes=10))
        )  # fmt: skip
    http = httpx.Client(
        base_url=api_url + BASE, timeout=30, headers={"X-Auth-Token": tenant.secret_key}
    )
    yield http, postgres, mariadb, snapshot_id
    http.close()
    with session_scope() as session:
        session.execute(delete(Operation).where(Operation.resource_id == snapshot_id))
        session.execute(delete(Snapshot).where(Snapshot.id == snapshot_id))


def _restore(http: httpx.Client, instance_id: str, name: str, target: datetime) -> httpx.Response:
    body = {"name": name, "target_time": target.isoformat()}
    return http.post(f"/instances/{instance_id}/restore-to-time", json=body)


def _refused(response: httpx.Response, argument: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "invalid_arguments"
    assert body["details"][0]["argument_name"] == argument


def test_guards(world: tuple[httpx.Client, str, str, str]) -> None:
    http, postgres, mariadb, _ = world
    now = utcnow()
    _refused(_restore(http, postgres, "early", now - timedelta(minutes=11)), "target_time")
    _refused(_restore(http, postgres, "future", now + timedelta(minutes=1)), "target_time")
    _refused(_restore(http, mariadb, "binlogs", now - timedelta(minutes=1)), "target_time")
    _refused(_restore(http, postgres, "", now - timedelta(minutes=1)), "name")
    missing = _restore(http, "00000000-0000-0000-0000-000000000000", "x", now)
    assert missing.status_code == 404 and missing.json()["resource"] == "instance"
    naive = http.post(
        f"/instances/{postgres}/restore-to-time",
        json={"name": "naive", "target_time": (now + timedelta(hours=1)).replace(tzinfo=None)
              .isoformat()},
    )  # fmt: skip
    _refused(naive, "target_time")  # without an offset: UTC, an hour ahead


def test_a_valid_time_records_a_new_instance_and_its_job(
    world: tuple[httpx.Client, str, str, str],
) -> None:
    """Through the service (the route would publish the job to a worker, if one runs)."""
    http, postgres, _, snapshot_id = world
    target = utcnow() - timedelta(minutes=5)
    with session_scope() as session:
        principal = authenticate(session, str(http.headers["X-Auth-Token"]))
        made, _ = pitr.restore_to_time(
            session, principal, "fr-par", postgres,
            RestoreToTimeRequest(name="pitr-new", target_time=target),
        )  # fmt: skip
        made_id = made.id
    rows.CREATED.append(made_id)  # removed with the session's row-only instances
    new = http.get(f"/instances/{made_id}").json()
    assert new["status"] == "provisioning" and new["name"] == "pitr-new"
    assert new["engine"] == "PostgreSQL-15" and not new["is_ha_cluster"]
    with session_scope() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        assert snapshot is not None and snapshot.status == "restoring"  # cannot go meanwhile
        op = session.query(Operation).filter(Operation.resource_id == made_id).one()
        assert op.kind == "restore_instance_to_time"
        assert op.params["snapshot_id"] == snapshot_id and op.params["source_id"] == postgres
        assert datetime.fromisoformat(op.params["target_time"]) == target
    busy = _restore(http, postgres, "pitr-second", target)  # its base backup is in use
    assert busy.status_code == 409, busy.text

    # the job's failure hook: the new instance in error, the base backup released
    context = OperationContext(
        "op", "restore_instance_to_time", "instance", made_id, op.params, 1, session_factory()
    )
    wal_archive.restore_failed(context, "boom")
    assert http.get(f"/instances/{made_id}").json()["status"] == "error"
    with session_scope() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        assert snapshot is not None and snapshot.status == "ready"


def test_a_mariadb_window_across_a_failover_is_refused(
    world: tuple[httpx.Client, str, str, str],
) -> None:
    """The snapshot's binlog position is the node it was taken on: once another node is the
    main one, the binlogs after it are that node's, and the window is refused."""
    http, _, mariadb, _ = world
    now = utcnow()
    with session_scope() as session:
        source = session.get(Instance, mariadb)
        assert source is not None
        base = Snapshot(
            organization_id=source.organization_id, project_id=source.project_id,
            region="fr-par", instance_id=mariadb, instance_name="pitr-my", name="base-my",
            status="ready", engine="MariaDB-10.11", node_type="db-dev-s", volume_type="lssd",
            source=source_of(source), size=1000, object_key="snapshots/y", checksum="0" * 64,
            created_at=now - timedelta(minutes=12), updated_at=now - timedelta(minutes=10),
            expires_at=now + timedelta(days=1),
        )  # fmt: skip
        session.add(base)
        session.flush()
        snapshot_id = base.id
        session.add(
            Operation(kind="create_snapshot", resource_type="snapshot", resource_id=base.id,
                      status="succeeded", finished_at=now - timedelta(minutes=10),
                      params={"node": "n1"})
        )  # fmt: skip
        session.add(Node(instance_id=mariadb, name="n2", role="primary"))  # failed over
    try:
        refused = _restore(http, mariadb, "across", now - timedelta(minutes=5))
        _refused(refused, "target_time")
        assert "failover" in refused.text
    finally:
        with session_scope() as session:
            session.execute(delete(Operation).where(Operation.resource_id == snapshot_id))
            session.execute(delete(Snapshot).where(Snapshot.id == snapshot_id))
            session.execute(delete(Node).where(Node.instance_id == mariadb))
