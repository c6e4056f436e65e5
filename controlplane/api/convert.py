"""ORM rows -> wire schemas, one function per resource."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import object_session

from controlplane.api.schemas import acls
from controlplane.api.schemas import endpoints as ep
from controlplane.api.schemas import instances as wire
from controlplane.api.schemas import read_replicas as rr
from controlplane.api.schemas.common import rfc3339
from controlplane.api.schemas.engines import upgradable_version_from_catalog
from controlplane.api.schemas.enums import MaintenanceStatus, storage_class_of
from controlplane.api.schemas.metrics import InstanceMetrics, TimeSeries
from controlplane.api.schemas.operations import OperationRecord
from controlplane.catalog import find_engine_version, load_catalog, upgradable_versions
from controlplane.db.base import utcnow
from controlplane.db.models import (
    AclRule,
    Endpoint,
    Instance,
    Maintenance,
    Operation,
    ReadReplica,
)
from controlplane.db.session import Reader
from controlplane.domain import backup_schedule
from controlplane.domain import metrics as domain_metrics
from controlplane.domain.redact import public_message
from controlplane.services import images, maintenances, shown
from controlplane.services.shown import (
    AnyEndpoint,
    AnyInstance,
    AnyMaintenance,
    AnyReplica,
    Shown,
)

# Instances and their endpoints, replicas and maintenances leave as wire dicts built straight
# from the rows: the hottest reads (GET one, list pages) skip building and re-validating eight
# pydantic models per instance from data the store already holds in wire form. Every other
# reader goes through the same builders and then the schema (``instance``), and
# tests/service/test_wire_builders.py holds the bytes equal to the schema's own output.
WireDict = dict[str, Any]


def endpoint(row: Endpoint) -> ep.Endpoint:
    return ep.Endpoint.model_validate(endpoint_wire(row))


def endpoint_wire(row: AnyEndpoint) -> WireDict:
    """Exactly one of the kind keys; ``hostname`` (never set here) is absent."""
    body: WireDict = {"id": row.id, "ip": row.ip, "port": row.port, "name": row.name}
    if row.kind == "load_balancer":
        body["load_balancer"] = {}
    elif row.kind == "direct_access":
        body["direct_access"] = {}
    else:
        details = row.details
        body["private_network"] = {
            "private_network_id": details["private_network_id"],
            "service_ip": details["service_ip"],
            "zone": details["zone"],
            "provisioning_mode": details.get("provisioning_mode", "static"),
        }
    return body


def _next_backup(row: AnyInstance, now: datetime) -> str | None:
    if row.backup_schedule_disabled:
        return None
    try:
        next_run = backup_schedule.next_run(
            row.created_at, row.backup_schedule_frequency, row.backup_schedule_start_hour, now
        )
    except OverflowError:  # a row written before requests were bounded
        return None
    return rfc3339(next_run)


def _settings(stored: list[dict[str, str]]) -> list[WireDict]:
    # values are strings on the wire (the schema coerces numbers the same way)
    return [{"name": s["name"], "value": str(s["value"])} for s in stored]


def instance(row: Instance) -> wire.Instance:
    return wire.Instance.model_validate(instance_wire(row))


def instance_wire(row: Instance) -> WireDict:
    return instances_wire(object_session(row), [shown.of(row)])[0]


def instances_wire(reader: Reader | None, rows: Sequence[Shown]) -> list[WireDict]:
    """What is the same for every row of a page (the time, the image versions) worked out once."""
    observed = images.current_engine_versions(reader) if reader is not None and rows else {}
    seen = frozenset(observed.items())
    now = utcnow()
    return [_instance(row, _upgrades(row.instance.engine, seen), now) for row in rows]


def _instance(shown_row: Shown, upgrades: tuple[WireDict, ...], now: datetime) -> WireDict:
    row = shown_row.instance
    endpoints = [endpoint_wire(e) for e in shown_row.endpoints if e.read_replica_id is None]
    load_balancer = next((e for e in endpoints if "load_balancer" in e), None)
    replicas = [_replica(r, shown_row.endpoints) for r in shown_row.read_replicas]
    since = now - maintenances.SHOWN_AFTER_CLOSING
    return {
        "id": row.id,
        "name": row.name,
        "organization_id": row.organization_id,
        "project_id": row.project_id,
        "status": row.status,
        "engine": row.engine,
        "upgradable_version": list(upgrades),
        "endpoint": load_balancer,
        "tags": list(row.tags),
        "settings": _settings(row.settings),
        "backup_schedule": {
            "frequency": row.backup_schedule_frequency,
            "retention": row.backup_schedule_retention,
            "disabled": row.backup_schedule_disabled,
            "next_run_at": _next_backup(row, now),
        },
        "is_ha_cluster": row.is_ha_cluster,
        "high_availability_mode": row.high_availability_mode,
        "read_replicas": replicas,
        "node_type": row.node_type,
        "volume": {
            "type": row.volume_type,
            "size": row.volume_size,
            "class": storage_class_of(row.volume_type).value,
        },
        "init_settings": _settings(row.init_settings),
        "endpoints": endpoints,
        "logs_policy": {
            "max_age_retention": row.logs_max_age_retention,
            "total_disk_retention": row.logs_total_disk_retention,
        },
        "backup_same_region": row.backup_same_region,
        "maintenances": [
            maintenance_wire(m)
            for m in shown_row.maintenances
            if maintenances.is_shown(m.closed_at, since)
        ],
        "encryption": {"enabled": row.encryption_enabled},
        "created_at": rfc3339(row.created_at),
        "region": row.region,
    }


@lru_cache(maxsize=64)
def _upgrades(engine: str, observed: frozenset[tuple[str, str]]) -> tuple[WireDict, ...]:
    """The newer versions an engine version can go to, with the minor versions of the images
    now built (``observed``: tag -> version); worked out once per engine and image set."""
    version = find_engine_version(load_catalog(), engine)
    if version is None:
        return ()
    images_seen = dict(observed)
    upgrades = []
    for target in upgradable_versions(load_catalog(), version):
        upgrade = upgradable_version_from_catalog(target)
        upgrade.minor_version = images_seen.get(target.image, upgrade.minor_version)
        upgrades.append(upgrade.model_dump())
    return tuple(upgrades)


def maintenance(row: Maintenance) -> wire.Maintenance:
    return wire.Maintenance.model_validate(maintenance_wire(row))


def maintenance_wire(row: AnyMaintenance) -> WireDict:
    return {
        "starts_at": _timestamp(row.starts_at),
        "stops_at": _timestamp(row.stops_at),
        "closed_at": _timestamp(row.closed_at),
        "reason": row.reason,
        "status": MaintenanceStatus(row.status).value,
        "forced_at": _timestamp(row.forced_at),
        "is_applicable": row.status == MaintenanceStatus.PENDING,
    }


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def metrics(row: Instance, found: list[domain_metrics.Series]) -> InstanceMetrics:
    """Each series labelled with its node and the node's current role (a read replica's node
    also with the replica's id; a replication lag series with whether the follower streamed
    when last observed). Series of nodes the instance no longer has are left out."""
    nodes = {n.name: n for n in row.nodes}
    replica_ids = {r.node_name: r.id for r in row.read_replicas}
    timeseries = []
    for found_series in found:
        node = nodes.get(found_series.node)
        if node is None:
            continue
        metadata = {"node": node.name, "role": node.role}
        if node.name in replica_ids:
            metadata["read_replica_id"] = replica_ids[node.name]
        if found_series.name == domain_metrics.REPLICATION_LAG_BYTES:
            metadata["streaming"] = str(bool(node.streaming)).lower()
        points = [(rfc3339(at), value) for at, value in found_series.points]
        timeseries.append(TimeSeries(name=found_series.name, points=points, metadata=metadata))
    return InstanceMetrics(timeseries=timeseries)


def read_replica(row: ReadReplica) -> rr.ReadReplica:
    return rr.ReadReplica.model_validate(_replica(row, row.instance.endpoints))


def _replica(row: AnyReplica, endpoints: Sequence[AnyEndpoint]) -> WireDict:
    """``endpoints``: its instance's, the replica's own among them."""
    return {
        "id": row.id,
        "endpoints": [endpoint_wire(e) for e in endpoints if e.read_replica_id == row.id],
        "status": row.status,
        "region": row.region,
        "same_zone": row.same_zone,
        "instance_id": row.instance_id,
    }


PUBLIC_OPERATION_DETAILS = (
    "from",
    "to",
    "reason",
    "result",
    "direct_access",
    "new_instance_id",
    "from_type",
    "to_type",
    "switched_over",
    "steps",  # seconds each step of a provisioning or heal took ({"n1 copied": 1.8, ...})
)


def operation(row: Operation) -> OperationRecord:
    """Only the details meant for users: never the encrypted verifier an operation may carry,
    nor internal names and addresses in its texts."""
    details = {
        k: public_message(v) if isinstance(v, str) else v
        for k, v in row.params.items()
        if k in PUBLIC_OPERATION_DETAILS
    }
    return OperationRecord(
        id=row.id,
        kind=row.kind,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        status=row.status,
        error=public_message(row.error),
        details=details,
        attempts=row.attempts,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def acl_rule(row: AclRule, port: int | None) -> acls.ACLRule:
    """``port`` (deprecated on the wire) is the instance's load-balancer port."""
    return acls.ACLRule(ip=row.ip, port=port, description=row.description)
