"""Instance settings use cases: Add (upsert), Set (replace), Delete (back to the default).

Validated against the catalog first (a refused request changes nothing), then the instance is
locked, moved to ``configuring`` through the state machine, its new settings recorded with an
``apply_settings`` operation (carrying the settings it had, so the job can tell hot changes
from those needing a rolling restart), and the job published after the commit. A request that
changes nothing shown starts no job. ``init_settings`` are create-only: their names are refused
here with a hint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from controlplane.api.schemas.common import InstanceSetting
from controlplane.catalog import find_engine_version, find_node_type, load_catalog
from controlplane.catalog import settings_change as change
from controlplane.catalog.model import EngineVersion, NodeType
from controlplane.db.models import Instance
from controlplane.domain.arguments import ArgumentError
from controlplane.domain.errors import InvalidArguments
from controlplane.domain.states import InstanceStatus
from controlplane.services import instances, operations
from controlplane.services.tenancy import Principal

Compute = Callable[[Instance], dict[str, str]]


def add(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    given: Sequence[InstanceSetting],
) -> tuple[Instance, str | None]:
    return _change(
        session, principal, region, instance_id,
        lambda version, node_type: change.value_errors(version, node_type, given),
        lambda row: change.added(row.settings, given),
    )  # fmt: skip


def set_all(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    given: Sequence[InstanceSetting],
) -> tuple[Instance, str | None]:
    return _change(
        session, principal, region, instance_id,
        lambda version, node_type: change.value_errors(version, node_type, given),
        lambda _row: change.replaced(given),
    )  # fmt: skip


def delete(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    names: Sequence[str],
) -> tuple[Instance, str | None]:
    return _change(
        session, principal, region, instance_id,
        lambda version, _node_type: change.name_errors(version, names),
        lambda row: change.deleted(row.settings, names),
    )  # fmt: skip


def _change(
    session: Session,
    principal: Principal,
    region: str,
    instance_id: str,
    check: Callable[[EngineVersion, NodeType], list[ArgumentError]],
    compute: Compute,
) -> tuple[Instance, str | None]:
    """The instance with its new settings, and the operation applying them (None: nothing
    shown changes)."""
    instance = instances.get(session, principal, region, instance_id, lock=True)
    catalog = load_catalog()
    version = find_engine_version(catalog, instance.engine)
    node_type = find_node_type(catalog, instance.node_type)
    if version is None or node_type is None:
        raise InvalidArguments.one("settings", f"{instance.engine} left the catalog")
    errors = check(version, node_type)
    if errors:
        raise InvalidArguments(errors)
    instances.guard_not_transient(instance)
    before = list(instance.settings)
    after = change.as_rows(change.shown_settings(version, node_type, compute(instance)))
    if after == before:
        session.rollback()
        return instance, None
    instances.start(session, instance, InstanceStatus.CONFIGURING)
    instance.settings = after
    op = operations.record(session, "apply_settings", "instance", instance.id, {"from": before})
    session.commit()
    return instance, op.id
