"""Instance metrics sampled from real containers: a PostgreSQL instance that a client writes to
shows CPU, memory, connections and write transactions on its node between the dates asked, one
metric when named; its samples go with it. Raw HTTP with the tenant's key: the Python SDK
cannot parse the points (scaleway-rdb-api.md 3.9). Sampling runs every 2 s in tests
(DBAAS_METRICS_INTERVAL_SECONDS in tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from scaleway.rdb.v1 import RdbV1API
from sqlalchemy import func, select

from controlplane.db.models import MetricSample
from controlplane.db.session import session_factory
from tests.e2e.clients import CLIENTS
from tests.support.live import Live, create, delete, exists, writing
from tests.support.tenants import Tenant

pytestmark = pytest.mark.docker
SAMPLED = (
    "cpu_usage_percent",
    "memory_usage_percent",
    "connections",
    "write_transactions_per_second",
)


@pytest.fixture(scope="module")
def live(rdb: RdbV1API) -> Iterator[Live]:
    live = create(rdb, CLIENTS["postgresql"], "metrics-pg", ha=False)
    yield live
    if exists(live.instance_id):
        delete(rdb, live.instance_id)


def _metrics(api_url: str, tenant: Tenant, instance_id: str, **params: str) -> httpx.Response:
    url = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}/metrics"
    return httpx.get(url, params=params, headers=tenant.headers, timeout=10)


def _go_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(point: list[Any]) -> datetime:
    return datetime.fromisoformat(point[0])


def _busy(series: dict[str, dict[str, Any]]) -> bool:
    """Every sampled metric has points, and they show the writer (its session, its commits)."""
    if any(not series.get(name, {}).get("points") for name in SAMPLED):
        return False
    most = {name: max(p[1] for p in series[name]["points"]) for name in SAMPLED}
    return most["connections"] >= 1 and most["write_transactions_per_second"] > 0


def _wait_for_samples(
    api_url: str, tenant: Tenant, instance_id: str, start: datetime, timeout: float = 120
) -> tuple[dict[str, dict[str, Any]], datetime]:
    """The main node's series from ``start`` (sent as the Python SDK sends dates) to now (as
    the Go SDK does), once they show the writes; and the end asked."""
    deadline = time.monotonic() + timeout
    while True:
        end = datetime.now(UTC)
        response = _metrics(
            api_url, tenant, instance_id, start_date=str(start), end_date=_go_date(end)
        )
        assert response.status_code == 200, response.text
        series = {s["name"]: s for s in response.json()["timeseries"]}
        if _busy(series):
            return series, end
        assert time.monotonic() < deadline, f"no samples showed the writes: {series}"
        time.sleep(1)


def test_a_busy_instance_has_its_metrics_between_the_dates_asked(
    api_url: str, tenant: Tenant, other_tenant: Tenant, live: Live
) -> None:
    start = datetime.now(UTC)
    with writing(live):
        series, end = _wait_for_samples(api_url, tenant, live.instance_id, start)

    for name in SAMPLED:
        found = series[name]
        assert found["metadata"] == {"node": "n1", "role": "primary"}, found
        times = [_time(p) for p in found["points"]]
        assert times == sorted(times) and all(start <= t <= end for t in times), (name, times)
    for name in ("cpu_usage_percent", "memory_usage_percent"):
        assert all(0 <= p[1] <= 100 for p in series[name]["points"]), series[name]
    assert max(p[1] for p in series["cpu_usage_percent"]["points"]) > 0
    assert max(p[1] for p in series["memory_usage_percent"]["points"]) > 0
    assert series.keys() <= {*SAMPLED, "disk_usage_percent", "disk_used_bytes"}  # no follower

    only = _metrics(api_url, tenant, live.instance_id, metric_name="connections").json()
    assert {s["name"] for s in only["timeseries"]} == {"connections"}

    day_before, two_days_before = start - timedelta(days=1), start - timedelta(days=2)
    before = _metrics(  # the instance did not exist yet
        api_url,
        tenant,
        live.instance_id,
        start_date=_go_date(two_days_before),
        end_date=_go_date(day_before),
    )
    assert before.status_code == 200 and before.json() == {"timeseries": []}

    backwards = _metrics(
        api_url, tenant, live.instance_id, start_date=_go_date(end), end_date=_go_date(start)
    )
    assert backwards.status_code == 400 and backwards.json()["type"] == "invalid_arguments"

    hidden = _metrics(api_url, other_tenant, live.instance_id)
    assert hidden.status_code == 404 and hidden.json()["type"] == "not_found"


def test_the_samples_go_with_the_instance(rdb: RdbV1API, live: Live) -> None:
    def samples() -> int:
        with session_factory()() as session:
            query = select(func.count()).where(MetricSample.instance_id == live.instance_id)
            return int(session.scalar(query) or 0)

    assert samples() > 0
    delete(rdb, live.instance_id)
    assert samples() == 0
