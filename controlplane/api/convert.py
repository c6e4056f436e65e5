"""ORM rows -> wire schemas, one function per resource."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import object_session

from controlplane.api.schemas import acls
from controlplane.api.schemas import endpoints as ep
from controlplane.api.schemas import instances as wire
from controlplane.api.schemas import read_replicas as rr
from controlplane.api.schemas.common import EncryptionAtRest, InstanceSetting, rfc3339
from controlplane.api.schemas.engines import upgradable_version_from_catalog
from controlplane.api.schemas.enums import MaintenanceStatus
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
from controlplane.domain import backup_schedule
from controlplane.domain import metrics as domain_metrics
from controlplane.domain.redact import public_message
from controlplane.services import images, maintenances


def endpoint(row: Endpoint) -> ep.Endpoint:
    kinds: dict[str, object] = {}
    if row.kind == "load_balancer":
        kinds["load_balancer"] = ep.EndpointLoadBalancerDetails()
    elif row.kind == "direct_access":
        kinds["direct_access"] = ep.EndpointDirectAccessDetails()
    else:
        kinds["private_network"] = ep.EndpointPrivateNetworkDetails(**row.details)
    return ep.Endpoint(id=row.id, ip=row.ip, port=row.port, name=row.name, **kinds)  # type: ignore[arg-type]


def _backup_schedule(row: Instance) -> wire.BackupSchedule:
    next_run = None
    if not row.backup_schedule_disabled:
        try:
            next_run = backup_schedule.next_run(
                row.created_at,
                row.backup_schedule_frequency,
                row.backup_schedule_start_hour,
                utcnow(),
            )
        except OverflowError:  # a row written before requests were bounded
            next_run = None
    return wire.BackupSchedule(
        frequency=row.backup_schedule_frequency,
        retention=row.backup_schedule_retention,
        disabled=row.backup_schedule_disabled,
        next_run_at=next_run,
    )


def instance(row: Instance) -> wire.Instance:
    endpoints = [endpoint(e) for e in row.endpoints if e.read_replica_id is None]
    load_balancer = next((e for e in endpoints if e.load_balancer is not None), None)
    session = object_session(row)
    observed = images.current_engine_versions(session) if session is not None else {}
    return wire.Instance(
        id=row.id,
        name=row.name,
        organization_id=row.organization_id,
        project_id=row.project_id,
        status=row.status,  # type: ignore[arg-type]
        engine=row.engine,
        upgradable_version=list(_upgrades(row.engine, frozenset(observed.items()))),
        endpoint=load_balancer,
        tags=list(row.tags),
        settings=[InstanceSetting(**s) for s in row.settings],
        backup_schedule=_backup_schedule(row),
        is_ha_cluster=row.is_ha_cluster,
        high_availability_mode=row.high_availability_mode,  # type: ignore[arg-type]
        read_replicas=[read_replica(r) for r in row.read_replicas],
        node_type=row.node_type,
        volume=wire.Volume(volume_type=row.volume_type, size=row.volume_size),  # type: ignore[arg-type]
        init_settings=[InstanceSetting(**s) for s in row.init_settings],
        endpoints=endpoints,
        logs_policy=wire.LogsPolicy(
            max_age_retention=row.logs_max_age_retention,
            total_disk_retention=row.logs_total_disk_retention,
        ),
        backup_same_region=row.backup_same_region,
        maintenances=[maintenance(m) for m in maintenances.shown(row)],
        encryption=EncryptionAtRest(enabled=row.encryption_enabled),
        created_at=row.created_at,
        region=row.region,
    )


@lru_cache(maxsize=64)
def _upgrades(
    engine: str, observed: frozenset[tuple[str, str]]
) -> tuple[wire.UpgradableVersion, ...]:
    """The newer versions an engine version can go to, with the minor versions of the images
    now built (``observed``: tag -> version); worked out once per engine for a page."""
    version = find_engine_version(load_catalog(), engine)
    if version is None:
        return ()
    images_seen = dict(observed)
    upgrades = []
    for target in upgradable_versions(load_catalog(), version):
        upgrade = upgradable_version_from_catalog(target)
        upgrade.minor_version = images_seen.get(target.image, upgrade.minor_version)
        upgrades.append(upgrade)
    return tuple(upgrades)


def maintenance(row: Maintenance) -> wire.Maintenance:
    return wire.Maintenance(
        starts_at=row.starts_at,
        stops_at=row.stops_at,
        closed_at=row.closed_at,
        reason=row.reason,
        status=MaintenanceStatus(row.status),
        forced_at=row.forced_at,
        is_applicable=row.status == MaintenanceStatus.PENDING,
    )


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
    endpoints = [endpoint(e) for e in row.instance.endpoints if e.read_replica_id == row.id]
    return rr.ReadReplica(
        id=row.id,
        endpoints=endpoints,
        status=row.status,  # type: ignore[arg-type]
        region=row.region,
        same_zone=row.same_zone,
        instance_id=row.instance_id,
    )


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
