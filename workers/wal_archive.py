"""Continuous WAL archiving (PostgreSQL) and point-in-time restores (PostgreSQL and MariaDB,
whose binlogs are archived by workers/binlog_archive.py and replayed by the agent's script).

Every PostgreSQL primary copies each completed WAL segment into ``wal-archive/`` on its volume
(``archive_command``, agents/postgres/conf.py; at least once a minute while it writes). The
collector (Celery beat, beside the log collector) reads them from the host side of the volume,
stores each encrypted with its instance's backup key under ``wal/<instance>/<segment>`` and
only then removes it from the node: a collector killed half-way stores the same segment again
under the same key.

A restore to a time builds a new instance from the latest snapshot (base backup) that was
complete by then, plus the archived segments: the new main node starts in archive recovery up
to ``recovery_target_time`` and promotes itself (its ordinary converge makes the rest). The
source first seals its archive (a commit stamped now, its segment closed, archived and stored),
so every time up to the request is reachable.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane import backup_crypto
from controlplane.db.models import Instance, Snapshot
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.domain.states import InstanceStatus, SnapshotStatus
from controlplane.logstore import LogStore, get_store
from controlplane.services import transitions
from controlplane.services.pitr import with_base
from controlplane.settings import get_settings
from workers import binlog_archive, docker_driver, nodes, preemption
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import converge_instance, ensure_node_rows, load_instance, mark_error
from workers.log_collector import COLLECTED, volume_root
from workers.runner import OperationContext
from workers.snapshot_jobs import ARCHIVE, EXCHANGE, Stored, open_into, unpack_script

log = logging.getLogger(__name__)
ARCHIVE_DIR = "wal-archive"  # on the node's volume (agents/postgres/conf.py WAL_ARCHIVE_DIR)
SEGMENTS = "wal"  # in the exchange directory of a restore
SEAL_TIMEOUT = 60.0
RECOVERY_WAIT_SECONDS = 600.0  # then the job is retried, and waits again


def wal_prefix(instance_id: str) -> str:
    return f"wal/{instance_id}/"


@dataclass(frozen=True)
class Archive:
    instance_id: str
    directory: Path
    wanted: bool = True  # False: no base backup to replay it onto, the segment is dropped


# --- collecting -----------------------------------------------------------------------------


def collect_all(sessions: sessionmaker[Session]) -> int:
    """One pass over every node's archive directory; the segments stored."""
    return sum(collect(get_store(), a) for a in _archives(sessions))


def collect_instance(sessions: sessionmaker[Session], instance_id: str) -> int:
    return sum(collect(get_store(), a) for a in _archives(sessions, instance_id))


def _archives(sessions: sessionmaker[Session], instance_id: str | None = None) -> list[Archive]:
    query = select(Instance).where(Instance.status.in_(COLLECTED))
    if instance_id is not None:
        query = query.where(Instance.id == instance_id)
    found = []
    with sessions() as session:
        based = with_base(session)
        for instance in session.scalars(query):
            for node in instance.nodes:
                root = volume_root(instance.id, node.name)
                if root is not None and (root / ARCHIVE_DIR).is_dir():
                    found.append(Archive(instance.id, root / ARCHIVE_DIR, instance.id in based))
    return found


def collect(store: LogStore, archive: Archive) -> int:
    """Store then remove every complete file (``.part`` ones are still being copied)."""
    stored = 0
    for path in sorted(p for p in archive.directory.iterdir() if p.is_file()):
        if path.name.endswith(".part"):
            continue
        if archive.wanted:
            key = backup_crypto.current_key(archive.instance_id)
            sealed = b"".join(backup_crypto.encrypt([path.read_bytes()], key))
            store.put(wal_prefix(archive.instance_id) + path.name, sealed)
            stored += 1
        path.unlink()
    if stored:
        log.info("instance %s: %d WAL file(s) archived", archive.instance_id, stored)
    return stored


def expire(sessions: sessionmaker[Session]) -> list[str]:
    """The archived segments of instances left without a snapshot (all expired or deleted,
    or the instance gone with them) are removed: nothing could replay them (periodic)."""
    store = get_store()
    archived = {o.key.split("/")[1] for o in store.objects("wal/") if o.key.count("/") == 2}
    with sessions() as session:
        orphaned = sorted(archived - with_base(session))
    for instance_id in orphaned:
        store.delete_prefix(wal_prefix(instance_id))
    if orphaned:
        log.info("archived WAL of %d instance(s) without a snapshot removed", len(orphaned))
    return orphaned


# --- restoring to a time --------------------------------------------------------------------


def restore(ctx: OperationContext) -> None:
    snapshot_id, source_id = str(ctx.params["snapshot_id"]), str(ctx.params["source_id"])
    target = datetime.fromisoformat(str(ctx.params["target_time"]))
    with ctx.sessions() as session:
        new = load_instance(session, ctx.resource_id)
        snapshot = session.get(Snapshot, snapshot_id)
        if new is None or new.status == InstanceStatus.DELETING:
            _release(session, snapshot_id)
            session.commit()
            return
        if snapshot is None or snapshot.object_key is None or snapshot.checksum is None:
            raise PermanentError("the base backup (snapshot) is gone")
        stored = Stored(
            snapshot.object_key, snapshot.checksum, snapshot.instance_id, snapshot.key_secret
        )
        source = load_instance(session, source_id)
        ensure_node_rows(session, new)
        session.commit()
        bp = load_blueprint(new)
        source_bp = load_blueprint(source) if source is not None else None
    if docker_driver.find_container(bp.container(bp.primary)) is None:
        if source_bp is not None:  # gone: its archive holds what it stored before
            source_bp.agent.seal_archive(connection(source_bp, source_bp.primary), SEAL_TIMEOUT)
        collect_instance(ctx.sessions, source_id)
        binlog_archive.collect_instance(ctx.sessions, source_id)  # MariaDB's log
        _restore_main_node(bp, stored, source_id, target)
    _await_recovery(bp)
    with ctx.sessions() as session:
        _release(session, snapshot_id)
        session.commit()
    log.info("instance %s: restored from %s to %s", bp.instance_id, source_id, target)
    converge_instance(ctx.sessions, bp.instance_id, {})


def _await_recovery(bp: Blueprint, timeout: float = RECOVERY_WAIT_SECONDS) -> None:
    """Until the new main node has replayed the archive up to the target and promoted itself.
    PostgreSQL answers read-only queries while it replays (hot standby): a node that merely
    answers is not restored yet. A retry after ``timeout`` waits again."""
    deadline = time.monotonic() + timeout
    while True:
        preemption.check(bp.instance_id)
        try:
            if bp.agent.is_primary(connection(bp, bp.primary)):
                return
        except TemporaryError:
            pass  # starting
        if time.monotonic() > deadline:
            raise TemporaryError("the restored node is still replaying the archived log", delay=5)
        time.sleep(0.5)


def _release(session: Session, snapshot_id: str) -> None:
    transitions.move_snapshot(
        session, snapshot_id, SnapshotStatus.READY, only_from={SnapshotStatus.RESTORING}
    )


def restore_failed(ctx: OperationContext, message: str) -> None:
    mark_error(ctx, message)
    with ctx.sessions() as session:
        _release(session, str(ctx.params["snapshot_id"]))
        session.commit()


def _exchange(name: str) -> Path:
    """A fresh host directory the engine's user may read, the parent the worker's alone."""
    parent = get_settings().state_dir / "snapshot-exchange"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    path.chmod(0o755)
    return path


def fetch_segments(source_id: str, into: Path) -> int:
    """Every archived file of the source, decrypted into ``into`` (readable by the engine)."""
    store, keys = get_store(), backup_crypto.all_keys(source_id)
    into.mkdir()
    into.chmod(0o755)  # whatever the worker's umask: the engine's user reads it
    count = 0
    for obj in store.objects(wal_prefix(source_id)):
        name = obj.key.rsplit("/", 1)[-1]
        try:
            plain = b"".join(backup_crypto.decrypt(store.stream(obj.key), keys))
        except backup_crypto.BackupCorrupted as exc:
            raise PermanentError(f"archived WAL file {name} cannot be opened: {exc}") from exc
        (into / name).write_bytes(plain)
        (into / name).chmod(0o644)
        count += 1
    return count


def _restore_main_node(bp: Blueprint, stored: Stored, source_id: str, target: datetime) -> None:
    """The base backup unpacked into the new main node's volume, the archived segments and
    the recovery settings beside it; the node then starts, recovers and promotes itself."""
    primary = bp.primary
    exchange = _exchange(f"pitr-{bp.instance_id}")
    try:
        open_into(stored, exchange / ARCHIVE)
        (exchange / ARCHIVE).chmod(0o644)
        # The engine's archive: WAL segments, or MariaDB binlogs (workers/binlog_archive.py).
        fetch = binlog_archive.fetch_binlogs if bp.agent.family == "mysql" else fetch_segments
        count = fetch(source_id, exchange / SEGMENTS)
        nodes.ensure_instance_network(bp.instance_id)
        spec = nodes.node_spec(bp, primary, nodes.volume_mount(bp, primary))
        recovery = bp.agent.pitr_script(
            bp.version.version, target.isoformat(), f"{EXCHANGE}/{SEGMENTS}"
        )
        unpacker = replace(
            spec, name=f"{spec.name}-restore", command=[], restart=False,
            mounts={**spec.mounts, str(exchange): EXCHANGE},
        )  # fmt: skip
        script = f"{unpack_script(bp.runtime.data_mount)}; {recovery}"
        code, output = docker_driver.run_once(unpacker, ["sh", "-c", script], {}, "/", timeout=3600)
        if code != 0:
            raise TemporaryError(f"preparing the restore failed: {output.strip()[-500:]}")
    finally:
        shutil.rmtree(exchange, ignore_errors=True)
    log.info("instance %s: %d archived WAL file(s) to replay", bp.instance_id, count)
    docker_driver.ensure_container(
        spec, files=bp.config_files(bp.roles[primary]), files_base=bp.runtime.data_mount
    )
