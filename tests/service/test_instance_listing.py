"""Listing through the official SDK: every filter, every order, pagination, tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scaleway import Client
from scaleway.rdb.v1 import ListInstancesRequestOrderBy, RdbV1API

from controlplane.db.base import utcnow
from controlplane.db.models import Instance
from controlplane.db.session import session_scope
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

ROWS = [  # name, tags, status, age in minutes
    ("alpha-db", ["prod", "eu"], "ready", 50),
    ("bravo-db", ["prod"], "error", 40),
    ("charlie", ["dev", "eu"], "ready", 30),
    ("delta-db", [], "provisioning", 20),
]


@pytest.fixture(scope="module")
def lister(api_url: str) -> tuple[RdbV1API, Tenant, dict[str, str]]:
    tenant = new_tenant("listing")
    ids = {}
    now = utcnow()
    for name, tags, status, age in ROWS:
        ids[name] = instance_row(tenant, name=name)
        with session_scope() as session:
            row = session.get(Instance, ids[name])
            assert row is not None
            row.tags, row.status, row.created_at = tags, status, now - timedelta(minutes=age)
    client = Client(
        access_key=tenant.access_key,
        secret_key=tenant.secret_key,
        api_url=api_url,
        default_region="fr-par",
        default_project_id=tenant.project_id,
    )
    return RdbV1API(client), tenant, ids


def _names(api: RdbV1API, **kwargs: object) -> list[str]:
    return [i.name for i in api.list_instances(**kwargs).instances]  # type: ignore[arg-type]


ORDERS = {
    ListInstancesRequestOrderBy.CREATED_AT_ASC: ["alpha-db", "bravo-db", "charlie", "delta-db"],
    ListInstancesRequestOrderBy.CREATED_AT_DESC: ["delta-db", "charlie", "bravo-db", "alpha-db"],
    ListInstancesRequestOrderBy.NAME_ASC: ["alpha-db", "bravo-db", "charlie", "delta-db"],
    ListInstancesRequestOrderBy.NAME_DESC: ["delta-db", "charlie", "bravo-db", "alpha-db"],
    ListInstancesRequestOrderBy.REGION: ["alpha-db", "bravo-db", "charlie", "delta-db"],
    ListInstancesRequestOrderBy.STATUS_ASC: ["bravo-db", "delta-db", "alpha-db", "charlie"],
    ListInstancesRequestOrderBy.STATUS_DESC: ["charlie", "alpha-db", "delta-db", "bravo-db"],
}


@pytest.mark.parametrize("order", list(ORDERS), ids=[str(o) for o in ORDERS])
def test_every_order(
    lister: tuple[RdbV1API, Tenant, dict[str, str]], order: ListInstancesRequestOrderBy
) -> None:
    api, _, _ = lister
    assert _names(api, order_by=order) == ORDERS[order]


def test_default_order_is_created_at_asc(lister: tuple[RdbV1API, Tenant, dict[str, str]]) -> None:
    api, _, _ = lister
    assert _names(api) == ORDERS[ListInstancesRequestOrderBy.CREATED_AT_ASC]


def test_filters(lister: tuple[RdbV1API, Tenant, dict[str, str]]) -> None:
    api, tenant, _ = lister
    assert _names(api, tags=["eu"]) == ["alpha-db", "charlie"]
    assert _names(api, tags=["eu", "prod"]) == ["alpha-db"]  # every given tag must match
    assert _names(api, name="-db") == ["alpha-db", "bravo-db", "delta-db"]  # substring
    assert _names(api, name="CHAR") == ["charlie"]
    assert (
        _names(api, project_id=tenant.project_id)
        == ORDERS[ListInstancesRequestOrderBy.CREATED_AT_ASC]
    )
    assert _names(api, organization_id=tenant.organization_id, project_id=tenant.project_id)
    assert _names(api, has_maintenances=False) == ORDERS[ListInstancesRequestOrderBy.CREATED_AT_ASC]
    assert _names(api, has_maintenances=True) == []


def test_pagination(lister: tuple[RdbV1API, Tenant, dict[str, str]]) -> None:
    api, _, _ = lister
    first = api.list_instances(page=1, page_size=3)
    assert first.total_count == 4 and len(first.instances) == 3
    second = api.list_instances(page=2, page_size=3)
    assert second.total_count == 4 and [i.name for i in second.instances] == ["delta-db"]
    past = api.list_instances(page=5, page_size=3)
    assert past.total_count == 4 and past.instances == []
    assert [i.name for i in api.list_instances_all()] == ORDERS[
        ListInstancesRequestOrderBy.CREATED_AT_ASC
    ]
