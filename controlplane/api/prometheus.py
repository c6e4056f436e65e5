"""``GET /metrics`` in the Prometheus text format (the official client library): the API's
requests by route and status with their latency, the jobs by kind and outcome with their
durations, failovers, and gauges of each instance labelled by instance and project (its
nodes' replication, and their latest sampled disk use and connections).

Operators only: ``Authorization: Bearer $DBAAS_METRICS_TOKEN``; with no token configured,
only clients on the loopback interface. Request figures add up every API process's.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.db.session import session_factory
from controlplane.domain.errors import DeniedAuthentication
from controlplane.services import figures
from controlplane.settings import get_settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOOPBACK = {"127.0.0.1", "::1"}
REQUESTS_REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "dbaas_api_requests", "API requests answered", ["method", "route", "status"],
    registry=REQUESTS_REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "dbaas_api_request_duration_seconds", "API request latency", ["method", "route"],
    registry=REQUESTS_REGISTRY,
)  # fmt: skip

router = APIRouter()


def may_scrape(configured: str, authorization: str | None, client_host: str | None) -> bool:
    """Pure: the configured bearer token, or (none configured) a loopback client."""
    if configured:
        presented = (authorization or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), configured.encode())
    return client_host in LOOPBACK


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    client = request.client.host if request.client else None
    if not may_scrape(get_settings().metrics_token, request.headers.get("authorization"), client):
        raise DeniedAuthentication("metrics need the operator's bearer token")
    store = CollectorRegistry()
    store.register(StoreCollector())
    body = generate_latest(_request_registry()) + generate_latest(store)
    return Response(body, media_type=CONTENT_TYPE)


def _request_registry() -> CollectorRegistry:
    """Several API processes (``dbaas api --workers``) share their figures through files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REQUESTS_REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class StoreCollector(Collector):
    """Read from the metadata store at each scrape."""

    def collect(self) -> Iterator[Any]:
        with session_factory()() as session:
            jobs = figures.jobs(session)
            instances = figures.instances(session)
        yield from _job_families(jobs)
        yield from _instance_families(instances)


def _job_families(jobs: list[figures.JobFigures]) -> Iterator[Any]:
    total = CounterMetricFamily(
        "dbaas_jobs", "Jobs by kind and outcome", labels=["kind", "outcome"]
    )
    duration = SummaryMetricFamily(
        "dbaas_job_duration_seconds", "Finished jobs: record to finish", labels=["kind", "outcome"]
    )
    failovers = CounterMetricFamily("dbaas_failovers", "Failovers the HA monitor carried out")
    for job in jobs:
        total.add_metric([job.kind, job.outcome], job.count)
        if job.finished:
            duration.add_metric([job.kind, job.outcome], job.finished, job.seconds)
    failovers.add_metric(
        [], sum(j.count for j in jobs if j.kind == "failover" and j.outcome == "succeeded")
    )
    yield from (total, duration, failovers)


def _instance_families(instances: list[figures.InstanceFigures]) -> Iterator[Any]:
    labels = ["instance_id", "project_id", "engine"]
    up = GaugeMetricFamily("dbaas_instance_up", "1 when the instance is ready", labels=labels)
    status = GaugeMetricFamily(
        "dbaas_instance_status", "1 for the instance's current status", labels=[*labels, "status"]
    )
    synchronous = GaugeMetricFamily(
        "dbaas_instance_ha_synchronous",
        "HA instances: 1 while every commit waits for the standby",
        labels=labels,
    )
    lag = GaugeMetricFamily(
        "dbaas_node_replication_lag_bytes",
        "Followers: bytes behind their primary, as last observed",
        labels=[*labels, "node", "role"],
    )
    streaming = GaugeMetricFamily(
        "dbaas_node_streaming", "Followers: 1 while streaming from the primary",
        labels=[*labels, "node", "role"],
    )  # fmt: skip
    disk_used = GaugeMetricFamily(
        "dbaas_node_disk_used_bytes", "Bytes used on the node's data volume (block volume types)",
        labels=[*labels, "node", "role"],
    )  # fmt: skip
    connections = GaugeMetricFamily(
        "dbaas_node_connections", "Client sessions open on the node, the control plane's left out",
        labels=[*labels, "node", "role"],
    )  # fmt: skip
    for instance in instances:
        values = [instance.instance_id, instance.project_id, instance.engine]
        up.add_metric(values, 1.0 if instance.up else 0.0)
        status.add_metric([*values, instance.status], 1.0)
        if instance.synchronous is not None:
            synchronous.add_metric(values, 1.0 if instance.synchronous else 0.0)
        for node in instance.nodes:
            if node.disk_used_bytes is not None:
                disk_used.add_metric([*values, node.node, node.role], node.disk_used_bytes)
            if node.connections is not None:
                connections.add_metric([*values, node.node, node.role], node.connections)
            if node.role == "primary":
                continue
            if node.lag_bytes is not None:
                lag.add_metric([*values, node.node, node.role], float(node.lag_bytes))
            if node.streaming is not None:
                streaming.add_metric([*values, node.node, node.role], float(node.streaming))
    yield from (up, status, synchronous, lag, streaming, disk_used, connections)


class RequestFigures:
    """ASGI middleware: counts each answered request by its route template (not its path:
    ids would make a series per instance) and method and status, with its latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = str(scope.get("method", ""))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
