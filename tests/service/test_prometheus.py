"""GET /metrics: the official parser reads it; it carries the API's request figures, the jobs
by kind and outcome, and each instance's gauges labelled by instance and project (its nodes'
latest metric samples of disk use and connections among them)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.api.prometheus import may_scrape
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, MetricSample, Node
from controlplane.db.session import session_scope
from controlplane.services import operations
from tests.support.rows import instance_row
from tests.support.tenants import Tenant, new_tenant

pytestmark = pytest.mark.usefixtures("no_worker")


@pytest.fixture(scope="module")
def tenant(migrated_db: str) -> Tenant:
    return new_tenant("prometheus")


def _samples(api_url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = httpx.get(f"{api_url}/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def test_instances_jobs_and_requests_are_exposed(api_url: str, tenant: Tenant) -> None:
    instance_id = instance_row(tenant, name="prom-ha")
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.is_ha_cluster, row.sync_mode = True, "sync"
        row.nodes = [
            Node(name="n1", role="primary"),
            Node(name="n2", role="standby", streaming=True, replication_lag_bytes=1234),
        ]
        now = utcnow()
        session.add_all(
            MetricSample(instance_id=instance_id, node_name=node, name=name, sampled_at=at, value=v)
            for node, name, at, v in [
                ("n1", "disk_used_bytes", now - timedelta(seconds=60), 1.0e9),
                ("n1", "disk_used_bytes", now, 2.0e9),  # the latest sample is the gauge
                ("n1", "connections", now, 5.0),
                ("n2", "connections", now - timedelta(hours=1), 9.0),  # stale: not shown
            ]
        )
        op = operations.record(session, "restart_instance", "instance", instance_id)
        op.status, op.finished_at = "succeeded", utcnow()  # never published: no job runs
    httpx.get(f"{api_url}/rdb/v1/regions/fr-par/instances", headers=tenant.headers)

    samples = _samples(api_url)
    ours = {"instance_id": instance_id, "project_id": tenant.project_id, "engine": "PostgreSQL-15"}
    assert (ours, 1.0) in samples["dbaas_instance_up"]
    assert ({**ours, "status": "ready"}, 1.0) in samples["dbaas_instance_status"]
    assert (ours, 1.0) in samples["dbaas_instance_ha_synchronous"]
    follower = {**ours, "node": "n2", "role": "standby"}
    assert (follower, 1234.0) in samples["dbaas_node_replication_lag_bytes"]
    assert (follower, 1.0) in samples["dbaas_node_streaming"]
    main = {**ours, "node": "n1", "role": "primary"}
    assert (main, 2.0e9) in samples["dbaas_node_disk_used_bytes"]
    assert [v for labels, v in samples["dbaas_node_connections"]
            if labels["instance_id"] == instance_id] == [5.0]  # fmt: skip
    restarts = {"kind": "restart_instance", "outcome": "succeeded"}
    assert any(labels == restarts and v >= 1 for labels, v in samples["dbaas_jobs_total"])
    assert any(labels == restarts and v >= 1
               for labels, v in samples["dbaas_job_duration_seconds_count"])  # fmt: skip
    listed = [v for labels, v in samples["dbaas_api_requests_total"]
              if labels["route"] == "/rdb/v1/regions/{region}/instances"
              and labels["status"] == "200"]  # fmt: skip
    assert listed and listed[0] >= 1
    assert "dbaas_api_request_duration_seconds_bucket" in samples
    assert "dbaas_failovers_total" in samples


def test_scrapes_need_the_token_or_loopback() -> None:
    assert may_scrape("", None, "127.0.0.1") and may_scrape("", None, "::1")
    assert not may_scrape("", None, "10.0.0.7")
    assert may_scrape("s3cret", "Bearer s3cret", "10.0.0.7")
    assert not may_scrape("s3cret", "Bearer nope", "127.0.0.1")
    assert not may_scrape("s3cret", None, "127.0.0.1")
