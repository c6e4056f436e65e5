"""GET /instances/{id}/metrics against the real API: stored samples come back as one series per
metric and node between the dates asked (the last hour by default), one metric when named,
labelled with the node's role; bad dates are ``invalid_arguments``; another tenant's instance
is not found. Row-only instances: the samples are written directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from controlplane.db.models import Instance, MetricSample, Node
from controlplane.db.session import session_scope
from controlplane.domain.metrics import Window
from controlplane.services import metric_samples
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

# The moment the samples are written relative to, set when they are (the instance_id fixture):
# taken at import, it was half an hour old by the time a long test session reached this module,
# and the samples of "30 minutes ago" had left the last hour.
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("metrics")


@pytest.fixture(scope="module")
def stranger(migrated_db: str) -> Tenant:
    return new_tenant("metrics-stranger")


@pytest.fixture(scope="module")
def instance_id(tenant: Tenant) -> str:
    """n1 (primary) and r1 (a read replica's node), with samples over the last two hours; a
    node the instance no longer has (n9) and a neighbour instance have samples too."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)
    instance_id = instance_row(tenant, name="metrics", replicas=1)
    neighbour = instance_row(tenant, name="metrics-neighbour")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.nodes = [
            Node(name="n1", role="primary"),
            Node(name="r1", role="replica", streaming=True, replication_lag_bytes=0,
                 observed_at=ago(5)),
        ]  # fmt: skip
        samples = [
            (instance_id, "n1", "cpu_usage_percent", ago(120), 5.0),
            (instance_id, "n1", "cpu_usage_percent", ago(30), 10.0),
            (instance_id, "n1", "cpu_usage_percent", ago(5), 20.0),
            (instance_id, "n1", "connections", ago(30), 3.0),
            (instance_id, "n1", "connections", ago(5), 4.0),
            (instance_id, "r1", "cpu_usage_percent", ago(5), 1.0),
            (instance_id, "r1", "replication_lag_bytes", ago(30), 64.0),
            (instance_id, "r1", "replication_lag_bytes", ago(5), 0.0),
            (instance_id, "n9", "cpu_usage_percent", ago(5), 50.0),
            (neighbour, "n1", "cpu_usage_percent", ago(5), 99.0),
        ]
        session.add_all(
            MetricSample(instance_id=i, node_name=n, name=m, sampled_at=t, value=v)
            for i, n, m, t, v in samples
        )
    return instance_id


def _get(api_url: str, tenant: Tenant, instance_id: str, **params: str) -> httpx.Response:
    url = f"{api_url}/rdb/v1/regions/fr-par/instances/{instance_id}/metrics"
    return httpx.get(url, params=params, headers=tenant.headers)


def _series(response: httpx.Response) -> dict[tuple[str, str], dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {(s["name"], s["metadata"]["node"]): s for s in response.json()["timeseries"]}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_last_hour_by_default(api_url: str, tenant: Tenant, instance_id: str) -> None:
    found = _series(_get(api_url, tenant, instance_id))
    assert set(found) == {
        ("connections", "n1"),
        ("cpu_usage_percent", "n1"),
        ("cpu_usage_percent", "r1"),
        ("replication_lag_bytes", "r1"),
    }  # not n9: the instance has no such node any more
    cpu = found[("cpu_usage_percent", "n1")]
    assert cpu["points"] == [[_stamp(ago(30)), 10.0], [_stamp(ago(5)), 20.0]]
    assert cpu["metadata"] == {"node": "n1", "role": "primary"}
    (replica_id,) = {
        s["metadata"].get("read_replica_id") for (_, n), s in found.items() if n == "r1"
    }
    assert replica_id is not None
    lag = found[("replication_lag_bytes", "r1")]
    assert lag["metadata"] == {
        "node": "r1", "role": "replica", "read_replica_id": replica_id, "streaming": "true",
    }  # fmt: skip
    assert lag["points"] == [[_stamp(ago(30)), 64.0], [_stamp(ago(5)), 0.0]]


def test_between_the_dates_as_both_sdks_send_them(
    api_url: str, tenant: Tenant, instance_id: str
) -> None:
    python_style = str(ago(180))  # "2026-11-30 09:00:00+00:00"
    go_style = _stamp(ago(10))
    found = _series(_get(api_url, tenant, instance_id, start_date=python_style, end_date=go_style))
    assert set(found) == {
        ("cpu_usage_percent", "n1"),
        ("connections", "n1"),
        ("replication_lag_bytes", "r1"),
    }
    assert [p[1] for p in found[("cpu_usage_percent", "n1")]["points"]] == [5.0, 10.0]
    naive = ago(6).strftime("%Y-%m-%dT%H:%M:%S")  # UTC
    found = _series(_get(api_url, tenant, instance_id, start_date=naive))
    assert [p[1] for p in found[("cpu_usage_percent", "n1")]["points"]] == [20.0]
    empty = _get(
        api_url,
        tenant,
        instance_id,
        start_date="2020-01-01T00:00:00Z",
        end_date="2020-01-02T00:00:00Z",
    )
    assert empty.json() == {"timeseries": []}


def test_one_metric_when_named(api_url: str, tenant: Tenant, instance_id: str) -> None:
    found = _series(_get(api_url, tenant, instance_id, metric_name="connections"))
    assert list(found) == [("connections", "n1")]
    assert _series(_get(api_url, tenant, instance_id, metric_name="no_such_metric")) == {}
    assert len(_series(_get(api_url, tenant, instance_id, metric_name=""))) == 4  # no filter


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2025-02-30T00:00:00Z"}, "end_date"),
        ({"start_date": "2025-01-02T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"}, "end_date"),
    ],
)
def test_bad_dates_are_invalid_arguments(
    api_url: str, tenant: Tenant, instance_id: str, params: dict[str, str], argument: str
) -> None:
    response = _get(api_url, tenant, instance_id, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "invalid_arguments"
    assert [d["argument_name"] for d in body["details"]] == [argument]


def test_another_tenants_instance_is_not_found(
    api_url: str, stranger: Tenant, instance_id: str
) -> None:
    response = _get(api_url, stranger, instance_id)
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "not_found"
    assert response.json()["resource"] == "instance"


def test_samples_go_with_their_node_or_instance(tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="metrics-forgotten")
    with session_scope() as session:
        session.add_all(
            MetricSample(instance_id=instance_id, node_name=node, name="connections",
                         sampled_at=ago(1), value=1.0)
            for node in ("n1", "r1")
        )  # fmt: skip
    window = Window(ago(2), NOW)
    with session_scope() as session:
        metric_samples.forget(session, instance_id, "r1")
    with session_scope() as session:
        assert [s.node for s in metric_samples.between(session, instance_id, window)] == ["n1"]
        metric_samples.forget(session, instance_id)
    with session_scope() as session:
        assert metric_samples.between(session, instance_id, window) == []
