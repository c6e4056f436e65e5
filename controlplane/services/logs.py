"""Instance log use cases: prepare (one InstanceLog per node over whole days, assembled by a
job), list, get, details, purge; and what a signed download needs. Tenancy as everywhere:
another organization's instance or log is ``not_found``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, InstanceLog
from controlplane.domain import logs
from controlplane.domain.errors import InvalidArguments, NotFound
from controlplane.logstore import get_store
from controlplane.services import instances, log_archive, operations
from controlplane.services.tenancy import Principal
from controlplane.settings import get_settings


@dataclass(frozen=True)
class Prepared:
    rows: list[InstanceLog]
    operation_id: str


def family(instance: Instance) -> str:
    """What log names start with: the engine's name ("postgresql", "mariadb")."""
    version = find_engine_version(load_catalog(), instance.engine)
    return version.engine_name.lower() if version is not None else "engine"


def prepare(
    session: Session, principal: Principal, region: str, instance_id: str,
    start: datetime | None, end: datetime | None,
) -> Prepared:  # fmt: skip
    instance = instances.get(session, principal, region, instance_id)
    first, last = logs.requested_days(start, end, utcnow())
    nodes = [n.name for n in instance.nodes] or ["n1"]
    rows = [
        InstanceLog(
            instance_id=instance.id,
            region=region,
            node_name=node,
            status="creating",
            first_day=first,
            last_day=last,
        )
        for node in nodes
    ]
    session.add_all(rows)
    session.flush()
    op = operations.record(session, "prepare_logs", "instance_logs", instance.id,
                           {"logs": [r.id for r in rows]})  # fmt: skip
    session.commit()
    return Prepared(rows, op.id)


def list_logs(
    session: Session, principal: Principal, region: str, instance_id: str, newest_first: bool
) -> list[InstanceLog]:
    instance = instances.get(session, principal, region, instance_id)
    order = InstanceLog.created_at.desc() if newest_first else InstanceLog.created_at.asc()
    return list(
        session.scalars(
            select(InstanceLog).where(InstanceLog.instance_id == instance.id).order_by(order)
        )
    )


def get(session: Session, principal: Principal, region: str, log_id: str) -> InstanceLog:
    row = session.get(InstanceLog, log_id)
    if row is None or row.region != region:
        raise NotFound("instance_log", log_id)
    instance = session.get(Instance, row.instance_id)
    if instance is None or instance.organization_id != principal.organization_id:
        raise NotFound("instance_log", log_id)
    return row


def details(
    session: Session, principal: Principal, region: str, instance_id: str
) -> list[tuple[str, int]]:
    instance = instances.get(session, principal, region, instance_id)
    name = family(instance)
    return [
        (logs.log_name(name, d.node, d.day), d.size)
        for d in log_archive.days(session, get_store(), instance.id)
    ]


def purge(
    session: Session, principal: Principal, region: str, instance_id: str, log_name: str | None
) -> None:
    instance = instances.get(session, principal, region, instance_id)
    if not log_archive.purge(session, get_store(), instance.id, log_name):
        raise InvalidArguments.one("log_name", f"no log named {log_name!r} on this instance")


def download_url(row: InstanceLog, instance_family: str) -> str | None:
    """Signed and expiring; only for a ready log whose expiry has not passed."""
    if row.status != "ready" or row.object_key is None or row.expires_at is None:
        return None
    if row.expires_at <= utcnow():
        return None
    name = logs.export_file_name(instance_family, row.node_name, row.first_day, row.last_day)
    return get_store().download_url(row.object_key, name, row.expires_at)


def download_expiry() -> datetime:
    return utcnow() + timedelta(hours=get_settings().log_download_expiry_hours)
