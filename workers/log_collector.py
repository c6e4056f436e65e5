"""Collect every node's engine log files into the log store, continuously (Celery beat).

Engines write their logs on the node's volume, outside the data directory (PostgreSQL
``log/postgresql-<day>.log``, MariaDB ``log/error.log`` and, when enabled, ``slow.log`` and
``general.log``): a stopped, fenced or rebuilt node keeps them, and the collector reads them
from the host side of the volume, never through the engine. Each file's position (inode and
byte offset) is kept in ``log_positions``; new complete lines go to the store as compressed
chunks named by the position they start at, the position moves only after the chunks are
stored: a collector killed half-way reads the same bytes again into the same chunk keys.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.registry import agent_for
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.db.base import utcnow
from controlplane.db.models import Instance, LogPosition
from controlplane.domain import logs
from controlplane.domain.states import InstanceStatus
from controlplane.logstore import LogStore, get_store
from workers import docker_driver, naming, volumes

log = logging.getLogger(__name__)
MAX_BATCH = 64 * 1024 * 1024  # bytes read from one file per pass
COLLECTED = tuple(
    s.value
    for s in InstanceStatus
    if s not in (InstanceStatus.PROVISIONING, InstanceStatus.UNKNOWN)
)


@dataclass(frozen=True)
class NodeLogs:
    instance_id: str
    node: str
    directory: Path


def collect_all(sessions: sessionmaker[Session]) -> int:
    """One pass over every node of every instance; the bytes stored."""
    return sum(collect_node(sessions, get_store(), t) for t in _targets(sessions))


def collect_instance(sessions: sessionmaker[Session], instance_id: str) -> int:
    """One pass over the nodes of one instance (what a prepared log is up to date with)."""
    return sum(collect_node(sessions, get_store(), t) for t in _targets(sessions, instance_id))


def _targets(sessions: sessionmaker[Session], instance_id: str | None = None) -> list[NodeLogs]:
    catalog = load_catalog()
    targets = []
    query = select(Instance).where(Instance.status.in_(COLLECTED))
    if instance_id is not None:
        query = query.where(Instance.id == instance_id)
    with sessions() as session:
        for instance in session.scalars(query):
            version = find_engine_version(catalog, instance.engine)
            if version is None:
                continue
            runtime = agent_for(version.family.value).runtime(version.version)
            for node in instance.nodes:
                root = volume_root(instance.id, node.name)
                if root is not None:
                    targets.append(NodeLogs(instance.id, node.name, root / runtime.log_dir))
    return targets


def volume_root(instance_id: str, node: str) -> Path | None:
    """The host directory of a node's volume, of either kind, when it exists here."""
    name = naming.volume(instance_id, node)
    path = volumes.mount_path(name)
    if volumes.is_mounted(path):
        return path
    mountpoint = docker_driver.volume_mountpoint(name)
    return Path(mountpoint) if mountpoint else None


def collect_node(sessions: sessionmaker[Session], store: LogStore, target: NodeLogs) -> int:
    if not target.directory.is_dir():
        return 0
    stored = 0
    for path in sorted(p for p in target.directory.iterdir() if p.is_file()):
        stored += _collect_file(sessions, store, target, path)
    return stored


def _collect_file(
    sessions: sessionmaker[Session], store: LogStore, target: NodeLogs, path: Path
) -> int:
    position_id = f"{target.instance_id}/{target.node}/{path.name}"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return 0
    with sessions() as session:
        position = session.get(LogPosition, position_id)
        start, last_day = 0, None
        # A replaced (another inode) or truncated file is read from its start again.
        if (
            position is not None
            and position.inode == stat.st_ino
            and stat.st_size >= position.offset
        ):
            start, last_day = position.offset, position.last_day
        if stat.st_size <= start:
            return 0
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(min(stat.st_size - start, MAX_BATCH))
        complete = data[: data.rfind(b"\n") + 1]
        if not complete:
            return 0  # a line still being written
        today = utcnow().date()
        previous = date.fromisoformat(last_day) if last_day else None
        pieces = logs.split_days(complete, previous, today)
        for day, text in pieces:
            key = logs.chunk_key(target.instance_id, target.node, day, stat.st_ino, start)
            store.put(key, gzip.compress(text, compresslevel=6))
        if position is None:
            position = LogPosition(id=position_id, instance_id=target.instance_id,
                                   node_name=target.node, file_name=path.name)  # fmt: skip
            session.add(position)
        position.inode, position.offset = stat.st_ino, start + len(complete)
        position.last_day = pieces[-1][0].isoformat()
        session.commit()
        return len(complete)


def forget_instance(session: Session, instance_id: str) -> None:
    """Its positions go with it (the caller commits)."""
    for position in session.scalars(
        select(LogPosition).where(LogPosition.instance_id == instance_id)
    ):
        session.delete(position)
