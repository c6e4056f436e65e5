"""Listing at scale: a page costs a bounded number of SQL statements whatever its size, and
10,000 rows page correctly in both orders (every row once, in order)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, select

from controlplane.api import convert
from controlplane.db.base import utcnow
from controlplane.db.models import Endpoint, Instance, Node
from controlplane.db.session import engine_for, session_factory, session_scope
from controlplane.services import instances as service
from controlplane.services import tenancy
from controlplane.settings import get_settings
from tests.support.tenants import Tenant, new_tenant

ROWS = 10_000
BASE = "/rdb/v1/regions/fr-par/instances"


@pytest.fixture(scope="module")
def crowd(migrated_db: str) -> Iterator[Tenant]:
    tenant = new_tenant("crowd")
    start = utcnow() - timedelta(days=1)
    for first in range(0, ROWS, 2000):
        with session_scope() as session:
            for i in range(first, first + 2000):
                row = Instance(
                    organization_id=tenant.organization_id, project_id=tenant.project_id,
                    region="fr-par", name=f"crowd-{i:05d}", engine="PostgreSQL-15",
                    node_type="db-dev-s", status="ready", tags=["crowd"], settings=[],
                    init_settings=[], volume_type="lssd", volume_size=5_000_000_000,
                    superuser_secret="-", replication_secret="-",
                    created_at=start + timedelta(seconds=i),
                )  # fmt: skip
                row.endpoints.append(Endpoint(kind="load_balancer", ip="127.0.0.1", port=20000))
                row.nodes.append(Node(name="n1", role="primary"))
                session.add(row)
    yield tenant
    # In bulk: row by row, 10,000 deletes hold SQLite's write lock longer than the running
    # worker and beat wait for it.
    ours = select(Instance.id).where(Instance.organization_id == tenant.organization_id)
    with session_scope() as session:
        session.execute(delete(Node).where(Node.instance_id.in_(ours)))
        session.execute(delete(Endpoint).where(Endpoint.instance_id.in_(ours)))
        session.execute(delete(Instance).where(Instance.organization_id == tenant.organization_id))


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = engine_for(get_settings().database_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _statements_for_a_page(tenant: Tenant, size: int) -> int:
    with session_factory()() as session, counting() as statements:
        principal = tenancy.authenticate(session, tenant.secret_key)
        page = service.list_instances(
            session, principal, "fr-par", name=None, tags=["crowd"], project_id=None,
            organization_id=None, has_maintenances=False, order_by="name_asc", page=3,
            page_size=size,
        )  # fmt: skip
        for row in page.items:
            convert.instance(row)
        assert len(page.items) == size and page.total_count == ROWS
        return len(statements)


def test_a_page_costs_a_bounded_number_of_statements(crowd: Tenant) -> None:
    _statements_for_a_page(crowd, 1)  # the key and the image versions are remembered now
    counts = {size: _statements_for_a_page(crowd, size) for size in (1, 10, 100)}
    assert counts[1] == counts[10] == counts[100], counts
    assert counts[100] <= 5, counts  # the count, the page, one per relation shown


@pytest.mark.parametrize("order", ["created_at_asc", "created_at_desc"])
def test_ten_thousand_rows_page_in_order(api_url: str, crowd: Tenant, order: str) -> None:
    names: list[str] = []
    page = 1
    with httpx.Client(base_url=api_url, headers=crowd.headers, timeout=30) as client:
        while True:
            body = client.get(BASE, params={"order_by": order, "page": page,
                                            "page_size": 100}).json()  # fmt: skip
            assert body["total_count"] == ROWS
            names += [i["name"] for i in body["instances"]]
            if len(body["instances"]) < 100:
                break
            page += 1
    expected = [f"crowd-{i:05d}" for i in range(ROWS)]
    assert names == (expected if order == "created_at_asc" else expected[::-1])
