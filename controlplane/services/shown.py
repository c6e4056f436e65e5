"""Instances as the API shows them: the columns and relations a response reads, and pages of
them loaded with plain column selects.

A list page is the API's hottest read. Loading it as ORM objects cost half of its CPU
(identity map, instance state, three collections per row) for rows that are only read once and
thrown away, and it read every column, the encrypted secrets and the TLS certificate included.
Here a page is four column selects (the instances, then the endpoints, read replicas and
maintenances of the page by one IN query each) whose rows go straight to the wire builders
(controlplane/api/convert.py). One instance (GET, and every write's response) keeps its ORM
row, all joined in one query: the builders read either kind alike, so both paths share one
conversion (tests/service/test_wire_builders.py holds their bytes to the schemas' output).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from controlplane.db.models import Endpoint, Instance, Maintenance, ReadReplica

AnySelect = Select[*tuple[Any, ...]]
T = TypeVar("T")


class EndpointRow(NamedTuple):
    instance_id: str
    id: str
    read_replica_id: str | None
    kind: str
    ip: str
    port: int
    name: str | None
    details: dict[str, Any]


class ReplicaRow(NamedTuple):
    id: str
    instance_id: str
    region: str
    status: str
    same_zone: bool


class MaintenanceRow(NamedTuple):
    instance_id: str
    reason: str
    status: str
    starts_at: datetime
    stops_at: datetime
    forced_at: datetime
    closed_at: datetime | None


class InstanceRow(NamedTuple):
    """The columns an Instance response shows (never the secrets or the TLS certificate)."""

    id: str
    name: str
    organization_id: str
    project_id: str
    region: str
    status: str
    engine: str
    node_type: str
    tags: list[str]
    settings: list[dict[str, str]]
    init_settings: list[dict[str, str]]
    backup_schedule_frequency: int
    backup_schedule_retention: int
    backup_schedule_disabled: bool
    backup_schedule_start_hour: int | None
    is_ha_cluster: bool
    high_availability_mode: str
    volume_type: str
    volume_size: int
    logs_max_age_retention: int | None
    logs_total_disk_retention: int | None
    backup_same_region: bool
    encryption_enabled: bool
    created_at: datetime


# A converter reads either kind alike: the page's plain rows or one instance's ORM objects.
AnyInstance = InstanceRow | Instance
AnyEndpoint = EndpointRow | Endpoint
AnyReplica = ReplicaRow | ReadReplica
AnyMaintenance = MaintenanceRow | Maintenance


@dataclass(frozen=True, slots=True)
class Shown:
    """One instance with what its response shows. ``endpoints``: the instance's and its read
    replicas' (``read_replica_id`` tells them apart), oldest first like the relations."""

    instance: AnyInstance
    endpoints: Sequence[AnyEndpoint]
    read_replicas: Sequence[AnyReplica]
    maintenances: Sequence[AnyMaintenance]


def of(row: Instance) -> Shown:
    """An ORM row, its relations loaded (services/instances.py WHOLE_INSTANCE)."""
    return Shown(row, row.endpoints, row.read_replicas, row.maintenances)


def _columns(table: type[Any], row: type[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(getattr(table, name) for name in row._fields)  # type: ignore[attr-defined]


# Selected in the named tuples' order, so each row becomes one by position: a named tuple's
# fields read in 50 ns, a SQLAlchemy Row's by name in 1 us (30 reads an instance).
INSTANCE_COLUMNS = _columns(Instance, InstanceRow)
_ENDPOINT_COLUMNS = _columns(Endpoint, EndpointRow)
_REPLICA_COLUMNS = _columns(ReadReplica, ReplicaRow)
_MAINTENANCE_COLUMNS = _columns(Maintenance, MaintenanceRow)


def page(session: Session, query: AnySelect) -> list[Shown]:
    """``query`` selects ``INSTANCE_COLUMNS``, filtered, ordered and limited to one page."""
    rows = [InstanceRow._make(row) for row in session.execute(query)]
    ids = [row.id for row in rows]
    endpoints = _by_instance(session, Endpoint, _ENDPOINT_COLUMNS, ids, EndpointRow._make)
    replicas = _by_instance(session, ReadReplica, _REPLICA_COLUMNS, ids, ReplicaRow._make)
    maintenances = _by_instance(
        session, Maintenance, _MAINTENANCE_COLUMNS, ids, MaintenanceRow._make
    )
    return [
        Shown(
            row, endpoints.get(row.id, ()), replicas.get(row.id, ()), maintenances.get(row.id, ())
        )
        for row in rows
    ]


def _by_instance(
    session: Session,
    table: type[Endpoint | ReadReplica | Maintenance],
    columns: tuple[Any, ...],
    ids: list[str],
    make: Callable[[Any], T],
) -> dict[str, list[T]]:
    """The rows of the page's instances by instance, in the relations' order (oldest first)."""
    query = select(*columns).where(table.instance_id.in_(ids))
    grouped: dict[str, list[T]] = defaultdict(list)
    for row in session.execute(query.order_by(table.created_at, table.id)):
        made = make(row)
        grouped[made.instance_id].append(made)  # type: ignore[attr-defined]
    return grouped
