"""Instances as the API shows them: the columns and relations a response reads, and pages of
them loaded with plain column selects.

A list page is the API's hottest read. Loading it as ORM objects cost half of its CPU
(identity map, instance state, three collections per row) for rows that are only read once and
thrown away, and it read every column, the encrypted secrets and the TLS certificate included.
Here a page is four column selects (the instances, then the endpoints, read replicas and
maintenances of the page's ids, each one precompiled statement) whose rows go straight to the
wire builders (controlplane/api/convert.py). GET one instance is one statement: the same columns
of the instance and its relations outer-joined, compiled once and run on the driver's cursor
(controlplane/db/precompiled.py). A write's response converts its ORM row, all joined in one
query. The builders read either kind alike, so all paths share one conversion
(tests/service/test_wire_builders.py holds their bytes to the schemas' output).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, Text, any_, bindparam, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

from controlplane.db.models import Endpoint, Instance, Maintenance, ReadReplica
from controlplane.db.precompiled import Precompiled
from controlplane.db.session import Reader, dialect_name

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


def page(reader: Reader, selected: Iterable[Sequence[Any]]) -> list[Shown]:
    """A page's instances, ``selected`` as ``INSTANCE_COLUMNS``, with their relations."""
    rows = [InstanceRow._make(row) for row in selected]
    ids = [row.id for row in rows]
    endpoints = _by_instance(reader, _ENDPOINTS_OF, ids, EndpointRow._make)
    replicas = _by_instance(reader, _REPLICAS_OF, ids, ReplicaRow._make)
    maintenances = _by_instance(reader, _MAINTENANCES_OF, ids, MaintenanceRow._make)
    return [
        Shown(
            row, endpoints.get(row.id, ()), replicas.get(row.id, ()), maintenances.get(row.id, ())
        )
        for row in rows
    ]


def _of_instances(
    table: type[Endpoint | ReadReplica | Maintenance], columns: tuple[Any, ...]
) -> dict[str, Precompiled]:
    """By dialect, the one statement that reads the rows of a page's instances in the
    relations' order (oldest first), the page's ids bound as one text: a PostgreSQL array
    (``= ANY``), a JSON array on SQLite (``json_each``). The statement is the same for any page,
    so it is compiled once (precompiled.py) and prepared once by psycopg, where an IN of 100
    parameters was built, keyed and compiled for each page (a quarter of a page's CPU). The
    array text is cast by the server: psycopg's list adapter checked each element in Python."""
    ids = bindparam("ids", type_=Text)
    each_id: AnySelect = select(literal_column("value")).select_from(func.json_each(ids))
    listed = {
        "postgresql": table.instance_id == any_(cast(ids, ARRAY(Text))),
        "sqlite": table.instance_id.in_(each_id.scalar_subquery()),
    }
    return {
        dialect: Precompiled(select(*columns).where(where).order_by(table.created_at, table.id))
        for dialect, where in listed.items()
    }


_ENDPOINTS_OF = _of_instances(Endpoint, _ENDPOINT_COLUMNS)
_REPLICAS_OF = _of_instances(ReadReplica, _REPLICA_COLUMNS)
_MAINTENANCES_OF = _of_instances(Maintenance, _MAINTENANCE_COLUMNS)


def text_array(values: list[str]) -> str:
    """PostgreSQL's text form of a one-dimensional array of strings."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _by_instance(
    reader: Reader, statements: dict[str, Precompiled], ids: list[str], make: Callable[[Any], T]
) -> dict[str, list[T]]:
    """The rows of the page's instances by instance, in the relations' order (oldest first)."""
    dialect = dialect_name(reader)
    bound = text_array(ids) if dialect == "postgresql" else json.dumps(ids)
    grouped: dict[str, list[T]] = defaultdict(list)
    for row in statements[dialect].rows(reader, ids=bound):
        made = make(row)
        grouped[made.instance_id].append(made)  # type: ignore[attr-defined]
    return grouped


_ENDPOINT_AT = len(INSTANCE_COLUMNS)
_REPLICA_AT = _ENDPOINT_AT + len(_ENDPOINT_COLUMNS)
_MAINTENANCE_AT = _REPLICA_AT + len(_REPLICA_COLUMNS)
_MAINTENANCE_ID_AT = _MAINTENANCE_AT + len(_MAINTENANCE_COLUMNS)

# One row per combination of the instance's endpoints, replicas and maintenances (as the ORM's
# joined load of the three relations), each relation in its own order: the first endpoint's
# rows hold every replica in order, its first replica's rows every maintenance.
_ONE = Precompiled(
    select(
        *INSTANCE_COLUMNS,
        *_ENDPOINT_COLUMNS,
        *_REPLICA_COLUMNS,
        *_MAINTENANCE_COLUMNS,
        Maintenance.id,
    )
    .select_from(Instance)
    .outerjoin(Endpoint, Endpoint.instance_id == Instance.id)
    .outerjoin(ReadReplica, ReadReplica.instance_id == Instance.id)
    .outerjoin(Maintenance, Maintenance.instance_id == Instance.id)
    .where(Instance.id == bindparam("instance_id"), Instance.region == bindparam("region"))
    .order_by(
        Endpoint.created_at,
        Endpoint.id,
        ReadReplica.created_at,
        ReadReplica.id,
        Maintenance.created_at,
        Maintenance.id,
    )
)


def one(reader: Reader, instance_id: str, region: str) -> Shown | None:
    """One instance with its relations, in one statement; None when there is none."""
    rows = _ONE.rows(reader, instance_id=instance_id, region=region)
    if not rows:
        return None
    endpoints: dict[str, EndpointRow] = {}
    replicas: dict[str, ReplicaRow] = {}
    maintenances: dict[str, MaintenanceRow] = {}
    for row in rows:  # an id is NULL where the outer join found nothing
        if row[_ENDPOINT_AT + 1] is not None and row[_ENDPOINT_AT + 1] not in endpoints:
            endpoints[row[_ENDPOINT_AT + 1]] = EndpointRow._make(row[_ENDPOINT_AT:_REPLICA_AT])
        if row[_REPLICA_AT] is not None and row[_REPLICA_AT] not in replicas:
            replicas[row[_REPLICA_AT]] = ReplicaRow._make(row[_REPLICA_AT:_MAINTENANCE_AT])
        maintenance_id = row[_MAINTENANCE_ID_AT]
        if maintenance_id is not None and maintenance_id not in maintenances:
            maintenances[maintenance_id] = MaintenanceRow._make(
                row[_MAINTENANCE_AT:_MAINTENANCE_ID_AT]
            )
    instance = InstanceRow._make(rows[0][:_ENDPOINT_AT])
    return Shown(
        instance, list(endpoints.values()), list(replicas.values()), list(maintenances.values())
    )
