"""Log jobs and periodic passes: assemble prepared logs for download; collect; close days
and apply retention; forget an instance's logs when it goes.

The archive of one instance is changed under its ``instance_logs`` lock (the one the prepare
job runs under), so a closing day never disappears under an export being assembled."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.base import utcnow
from controlplane.db.models import Instance, InstanceLog
from controlplane.domain import logs
from controlplane.domain.failures import TemporaryError
from controlplane.domain.states import InstanceStatus
from controlplane.logstore import get_store
from controlplane.services import log_archive
from controlplane.services import logs as log_service
from controlplane.settings import get_settings
from workers import locks, log_collector
from workers.runner import OperationContext

log = logging.getLogger(__name__)
LOCK = "instance_logs"


def prepare(ctx: OperationContext) -> None:
    """Collect up to now, then one export per requested node log, ready with its expiry."""
    ids = ctx.params.get("logs")
    wanted = [str(i) for i in ids] if isinstance(ids, list) else []
    log_collector.collect_instance(ctx.sessions, ctx.resource_id)
    store = get_store()
    with ctx.sessions() as session:
        for row in session.scalars(select(InstanceLog).where(InstanceLog.id.in_(wanted))):
            if row.status != "creating":
                continue
            days = [row.first_day + timedelta(days=n)
                    for n in range((row.last_day - row.first_day).days + 1)]  # fmt: skip
            key = logs.export_key(row.id)
            store.put(
                key, log_archive.read_days(session, store, row.instance_id, row.node_name, days)
            )
            row.object_key, row.expires_at = key, log_service.download_expiry()
            row.status = "ready"
        session.commit()


def prepare_failed(ctx: OperationContext, message: str) -> None:
    ids = ctx.params.get("logs")
    wanted = [str(i) for i in ids] if isinstance(ids, list) else []
    with ctx.sessions() as session:
        for row in session.scalars(select(InstanceLog).where(InstanceLog.id.in_(wanted))):
            row.status, row.status_reason = "error", message
        session.commit()


def close_all(sessions: sessionmaker[Session], today: date | None = None) -> int:
    """Close every instance's past days, apply its retention, drop expired exports."""
    today = today or utcnow().date()
    closed = 0
    store = get_store()
    with sessions() as session:
        ids = list(session.scalars(select(Instance.id).where(
            Instance.status != InstanceStatus.DELETING.value)))  # fmt: skip
    for instance_id in ids:
        with locks.holding(LOCK, instance_id, wait=5.0, ttl=300) as held:
            if held is None:
                continue  # busy: next pass
            with sessions() as session:
                instance = session.get(Instance, instance_id)
                if instance is None:
                    continue
                closed += log_archive.close_days(session, store, instance_id, today)
                log_archive.apply_retention(session, store, instance, today)
                _drop_expired_exports(session, instance_id)
    return closed


def _drop_expired_exports(session: Session, instance_id: str) -> None:
    now = utcnow()
    expired = session.scalars(
        select(InstanceLog).where(
            InstanceLog.instance_id == instance_id, InstanceLog.expires_at < now
        )
    ).all()
    keys = [row.object_key for row in expired if row.object_key]
    if keys:
        get_store().delete(keys)
    for row in expired:
        row.object_key = None
    session.commit()


def forget_instance(session: Session, instance_id: str) -> None:
    """Everything of a deleted instance: its archive, exports, positions (the caller commits
    after deleting the instance row)."""
    store = get_store()
    log_archive.purge(session, store, instance_id, None)
    rows = session.scalars(select(InstanceLog).where(InstanceLog.instance_id == instance_id)).all()
    store.delete([row.object_key for row in rows if row.object_key])
    for row in rows:
        session.delete(row)
    log_collector.forget_instance(session, instance_id)
    session.flush()  # before the instance row goes: the log rows refer to it


def collect_all(sessions: sessionmaker[Session]) -> None:
    """One collector pass at a time (a slow pass is not overlapped by the next)."""
    with locks.holding("log_collector", get_settings().queue_name, ttl=120) as held:
        if held is None:
            return
        try:
            log_collector.collect_all(sessions)
        except TemporaryError as exc:
            log.warning("log collection: %s", exc)
