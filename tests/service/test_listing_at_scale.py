"""Listing at scale: a page costs a bounded number of SQL statements whatever its size, and
10,000 rows page correctly in both orders (every row once, in order)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.api import convert
from controlplane.db.base import utcnow
from controlplane.db.models import Endpoint, Instance, Node
from controlplane.services import instances as service
from controlplane.services import tenancy
from tests.support import processes
from tests.support.stores import counting, fresh_sqlite, migrated
from tests.support.tenants import Tenant

ROWS = 10_000
BASE = "/rdb/v1/regions/fr-par/instances"


@dataclass(frozen=True)
class Crowd:
    url: str
    sessions: sessionmaker[Session]
    tenant: Tenant
    api_url: str


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    """10,000 ready rows in a store of their own, served by an API of their own: the session's
    worker, beat and monitor never see them (their periodic rounds over 10,000 instances held
    the shared SQLite file's write lock for longer than other tests wait for it)."""
    url = fresh_sqlite(tmp_path_factory.mktemp("crowd"))
    sessions = migrated(url)
    with sessions.begin() as session:
        org = tenancy.create_organization(session, "crowd")
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "tests")
    tenant = Tenant(org.id, project.id, key.access_key, key.secret_key)
    start = utcnow() - timedelta(days=1)
    with sessions.begin() as session:
        for i in range(ROWS):
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
    api = processes.api(env={"DATABASE_URL": url}, name="api-crowd")
    with processes.running(api):
        yield Crowd(url, sessions, tenant, processes.url_of(api))


def _statements_for_a_page(crowd: Crowd, size: int) -> int:
    with crowd.sessions() as session, counting(crowd.url) as statements:
        principal = tenancy.authenticate(session, crowd.tenant.secret_key)
        page = service.list_instances(
            session, principal, "fr-par", name=None, tags=["crowd"], project_id=None,
            organization_id=None, has_maintenances=False, order_by="name_asc", page=3,
            page_size=size,
        )  # fmt: skip
        convert.instances_wire(session, page.items)
        assert len(page.items) == size and page.total_count == ROWS
        return len(statements)


def test_a_page_costs_a_bounded_number_of_statements(crowd: Crowd, memos_held: None) -> None:
    _statements_for_a_page(crowd, 1)  # the key and the image versions are remembered now
    counts = {size: _statements_for_a_page(crowd, size) for size in (1, 10, 100)}
    assert counts[1] == counts[10] == counts[100], counts
    assert counts[100] == 5, counts  # the total, the page, one per relation shown


@pytest.mark.parametrize("order", ["created_at_asc", "created_at_desc"])
def test_ten_thousand_rows_page_in_order(crowd: Crowd, order: str) -> None:
    names: list[str] = []
    page = 1
    headers = crowd.tenant.headers
    with httpx.Client(base_url=crowd.api_url, headers=headers, timeout=30) as client:
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
