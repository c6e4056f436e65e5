"""Snapshots through the official SDK on row-only instances and snapshots (no containers): every
list filter and order, paging, tenancy, updates, and the guards of create, delete and
create-instance (no job runs here: no worker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from scaleway import Client
from scaleway.rdb.v1 import ListSnapshotsRequestOrderBy, RdbV1API
from scaleway_core.api import ScalewayException
from sqlalchemy import delete, select

from controlplane.api.schemas.snapshots import (
    CreateInstanceFromSnapshotRequest,
    CreateSnapshotRequest,
)
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, Operation, Snapshot
from controlplane.db.session import session_factory, session_scope
from controlplane.services import snapshots
from controlplane.services.snapshots import source_of
from controlplane.services.tenancy import authenticate
from tests.support import rows
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant
from workers import snapshot_jobs
from workers.runner import OperationContext

ROWS = [  # name, status, age in minutes, days to expiry
    ("alpha", "ready", 50, 30),
    ("bravo", "ready", 40, 10),
    ("charlie", "error", 30, 20),
    ("delta", "creating", 20, 40),
]


def _api(api_url: str, tenant: Tenant) -> RdbV1API:
    client = Client(
        access_key=tenant.access_key, secret_key=tenant.secret_key, api_url=api_url,
        default_region="fr-par", default_project_id=tenant.project_id,
    )  # fmt: skip
    return RdbV1API(client)


@pytest.fixture(scope="module")
def world(api_url: str) -> Iterator[tuple[RdbV1API, Tenant, str, dict[str, str]]]:
    tenant = new_tenant("snapshots")
    instance_id = instance_row(tenant, name="snap-source")
    other_instance = instance_row(tenant, name="other-source")
    ids: dict[str, str] = {}
    now = utcnow()
    with session_scope() as session:
        source = session.get(Instance, instance_id)
        assert source is not None
        spec = source_of(source)
        for i, (name, status, age, days) in enumerate(ROWS):
            row = Snapshot(
                organization_id=tenant.organization_id, project_id=tenant.project_id,
                region="fr-par", instance_id=other_instance if i == 3 else instance_id,
                instance_name="snap-source", name=name, status=status, engine="PostgreSQL-15",
                node_type="db-dev-s", volume_type="lssd", source=spec,
                size=None if status == "creating" else 1000 + i,
                created_at=now - timedelta(minutes=age), updated_at=now,
                expires_at=now + timedelta(days=days),
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids[name] = row.id
    yield _api(api_url, tenant), tenant, instance_id, ids
    with session_scope() as session:
        mine = Snapshot.organization_id == tenant.organization_id
        snapshot_ids = list(session.scalars(select(Snapshot.id).where(mine)))
        session.execute(delete(Operation).where(Operation.resource_id.in_(snapshot_ids)))
        session.execute(delete(Snapshot).where(mine))


ORDERS = {
    ListSnapshotsRequestOrderBy.CREATED_AT_ASC: ["alpha", "bravo", "charlie", "delta"],
    ListSnapshotsRequestOrderBy.CREATED_AT_DESC: ["delta", "charlie", "bravo", "alpha"],
    ListSnapshotsRequestOrderBy.NAME_ASC: ["alpha", "bravo", "charlie", "delta"],
    ListSnapshotsRequestOrderBy.NAME_DESC: ["delta", "charlie", "bravo", "alpha"],
    ListSnapshotsRequestOrderBy.EXPIRES_AT_ASC: ["bravo", "charlie", "alpha", "delta"],
    ListSnapshotsRequestOrderBy.EXPIRES_AT_DESC: ["delta", "alpha", "charlie", "bravo"],
}


def _names(api: RdbV1API, **kwargs: object) -> list[str]:
    return [s.name for s in api.list_snapshots(**kwargs).snapshots]  # type: ignore[arg-type]


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_order(world: tuple[RdbV1API, Tenant, str, dict[str, str]], order: str) -> None:
    api = world[0]
    assert _names(api, order_by=order) == ORDERS[order]  # type: ignore[index]


def test_filters_paging_and_tenancy(
    world: tuple[RdbV1API, Tenant, str, dict[str, str]], api_url: str, other_tenant: Tenant
) -> None:
    api, tenant, instance_id, ids = world
    assert _names(api, instance_id=instance_id) == ["alpha", "bravo", "charlie"]
    assert _names(api, name="HAR") == ["charlie"]
    assert _names(api, project_id=tenant.project_id) == ["alpha", "bravo", "charlie", "delta"]
    assert _names(api, organization_id=other_tenant.organization_id) == []
    page = api.list_snapshots(page=2, page_size=3)
    assert [s.name for s in page.snapshots] == ["delta"] and page.total_count == 4
    assert len(api.list_snapshots_all()) == 4
    one = api.get_snapshot(snapshot_id=ids["alpha"])
    assert (one.size, one.instance_id, one.volume_type.type_) == (1000, instance_id, "lssd")
    assert str(one.volume_type.class_) == "lssd"
    raw = requests.get(
        f"{api_url}/rdb/v1/regions/fr-par/snapshots/{ids['delta']}",
        headers={"X-Auth-Token": tenant.secret_key}, timeout=10,
    ).json()  # fmt: skip
    assert raw["size"] is None and raw["status"] == "creating"  # null while creating
    outsider = _api(api_url, other_tenant)
    assert outsider.list_snapshots().total_count == 0
    with pytest.raises(ScalewayException) as missing:
        outsider.get_snapshot(snapshot_id=ids["alpha"])
    assert missing.value.status_code == 404
    assert missing.value.response.json()["resource"] == "instance_snapshot"


def test_update(world: tuple[RdbV1API, Tenant, str, dict[str, str]]) -> None:
    api, _, _, ids = world
    later = datetime.now(UTC) + timedelta(days=90)
    updated = api.update_snapshot(snapshot_id=ids["bravo"], name="bravo", expires_at=later)
    assert updated.expires_at is not None and abs(updated.expires_at - later) < timedelta(seconds=1)
    for bad in ({"name": ""}, {"expires_at": datetime.now(UTC) - timedelta(hours=1)}):
        with pytest.raises(ScalewayException) as refused:
            api.update_snapshot(snapshot_id=ids["bravo"], **bad)  # type: ignore[arg-type]
        assert refused.value.status_code == 400


def test_guards(world: tuple[RdbV1API, Tenant, str, dict[str, str]]) -> None:
    """Through the API where no job can interfere; the moves a job's timing would race are
    recorded through the service layer (not published: a worker of another module may run)."""
    api, tenant, instance_id, ids = world
    _set_status(instance_id, "configuring")
    with pytest.raises(ScalewayException) as not_serving:
        api.create_snapshot(instance_id=instance_id, name="snp-early")
    assert not_serving.value.status_code == 409
    _set_status(instance_id, "ready")
    with session_scope() as session:
        principal = authenticate(session, tenant.secret_key)
        taken, _ = snapshots.create(
            session, principal, "fr-par", instance_id, CreateSnapshotRequest(name="snp-guarded")
        )
        taken_id, created_at, expires_at = taken.id, taken.created_at, taken.expires_at
    assert expires_at is not None and expires_at - created_at == timedelta(days=365)
    assert api.get_snapshot(snapshot_id=taken_id).status == "creating"
    assert api.get_instance(instance_id=instance_id).status == "snapshotting"
    for refused in (
        lambda: api.create_snapshot(instance_id=instance_id, name="snp-second"),  # busy
        lambda: api.delete_snapshot(snapshot_id=taken_id),  # its job would write the object
        lambda: api.create_instance_from_snapshot(snapshot_id=ids["delta"], instance_name="x"),
    ):
        with pytest.raises(ScalewayException) as busy:
            refused()
        assert busy.value.status_code == 409
    with pytest.raises(ScalewayException) as bad_type:
        api.create_instance_from_snapshot(
            snapshot_id=ids["alpha"], instance_name="x", node_type="db-nope"
        )
    assert bad_type.value.status_code == 400

    with session_scope() as session:
        principal = authenticate(session, tenant.secret_key)
        made, _ = snapshots.create_instance(
            session, principal, "fr-par", ids["alpha"],
            CreateInstanceFromSnapshotRequest(instance_name="made"),
        )  # fmt: skip
        made_id = made.id
    rows.CREATED.append(made_id)  # removed with the module's rows
    shown = api.get_instance(instance_id=made_id)
    assert (shown.status, shown.engine, shown.name) == ("provisioning", "PostgreSQL-15", "made")
    assert api.get_snapshot(snapshot_id=ids["alpha"]).status == "restoring"
    for refused in (
        lambda: api.create_instance_from_snapshot(snapshot_id=ids["alpha"], instance_name="y"),
        lambda: api.delete_snapshot(snapshot_id=ids["alpha"]),
    ):
        with pytest.raises(ScalewayException) as restoring:
            refused()
        assert restoring.value.status_code == 409

    # the jobs' failure hooks: the snapshot in error, the instance serving; the new instance
    # in error, the snapshot released
    snapshot_jobs.take_failed(_context("create_snapshot", "snapshot", taken_id, {}), "boom")
    assert api.get_snapshot(snapshot_id=taken_id).status == "error"
    assert api.get_instance(instance_id=instance_id).status == "ready"
    params = {"snapshot_id": ids["alpha"]}
    snapshot_jobs.create_instance_failed(
        _context("create_instance_from_snapshot", "instance", made_id, params), "boom"
    )
    assert api.get_instance(instance_id=made_id).status == "error"
    assert api.get_snapshot(snapshot_id=ids["alpha"]).status == "ready"

    assert api.delete_snapshot(snapshot_id=ids["charlie"]).status == "deleting"  # error: deletable
    with pytest.raises(ScalewayException) as twice:
        api.delete_snapshot(snapshot_id=ids["charlie"])
    assert twice.value.status_code in (404, 409)  # deleting, or already deleted by a worker


def _set_status(instance_id: str, status: str) -> None:
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.status = status


def test_expired_snapshots_are_deleted(world: tuple[RdbV1API, Tenant, str, dict[str, str]]) -> None:
    api, _, _, ids = world
    with session_scope() as session:
        row = session.get(Snapshot, ids["bravo"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    ops = snapshot_jobs.expire(session_factory())
    assert len(ops) == 1
    snapshot_jobs.delete(_context("delete_snapshot", "snapshot", ids["bravo"], {}))
    with pytest.raises(ScalewayException) as gone:
        api.get_snapshot(snapshot_id=ids["bravo"])
    assert gone.value.status_code == 404
    assert snapshot_jobs.expire(session_factory()) == []


def _context(kind: str, resource_type: str, resource_id: str, params: dict[str, object]) -> Any:
    return OperationContext("op", kind, resource_type, resource_id, params, 1, session_factory())
