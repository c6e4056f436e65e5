"""Snapshot jobs: take one, delete one, build a new instance from one, expire old ones.

A snapshot is a ready data directory for a new main node, archived (tar + gzip), encrypted with
the instance's backup key (``controlplane/backup_crypto``) and stored in the object store under
``snapshots/``, the archive's SHA-256 recorded. It is taken without stopping the source.
PostgreSQL: the clone machinery (``copy_jobs``) in a one-shot container of the instance's image
on the instance's network, on a scratch volume: ``pg_basebackup -X stream`` (the WAL needed to
make the copy consistent comes with it). MariaDB (``EngineAgent.physical_copy``): a
``mariadb-backup`` stream out of the running main node, prepared by a one-shot container into a
data directory that keeps its binlog position (agents/mysql/physical.py). A new instance's main
node starts on that archive, unpacked into its volume once it decrypted and its checksum
matched; its standby (HA) is then made by the ordinary converge. Each job first records what
the instance's log archive holds (``archive_trim``) and, once done, the node it copied.

Every step looks at what exists first and the object is written whole or not at all: a retried
job carries on, and nothing half-written is ever restorable.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from agents.base import PhysicalCopy, copy_of
from controlplane import backup_crypto
from controlplane.db.base import utcnow
from controlplane.db.models import Operation, Snapshot
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.domain.states import InstanceStatus, SnapshotStatus
from controlplane.logstore import get_store
from controlplane.services import operations, transitions
from controlplane.services.snapshots import expired, object_key, start_deletion
from controlplane.settings import get_settings
from workers import archive_trim, docker_driver, naming, nodes
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import converge_instance, ensure_node_rows, load_instance, mark_error
from workers.runner import OperationContext

log = logging.getLogger(__name__)
EXCHANGE = "/dbaas-exchange"  # where one-shot containers meet the worker (a host directory)
ARCHIVE = "snapshot.tar.gz"
SEALED = "snapshot.sealed"  # the archive encrypted, as stored
# Never archived: the clone's password file and work directory, and the node's own logs.
NOT_ARCHIVED = (".pgpass", ".dbaas-clone")


def archive_script(clone_command: list[str], data_mount: str, log_dir: str) -> str:
    """Run the clone into the (scratch) data mount, then archive it into the exchange
    directory under a temporary name renamed at the end: the worker never reads a partial one."""
    excluded = " ".join(f"--exclude=./{shlex.quote(p)}" for p in (*NOT_ARCHIVED, log_dir))
    return (
        f"set -eu; umask 022; {shlex.join(clone_command)}; "
        f"tar -C {shlex.quote(data_mount)} {excluded} -czf {EXCHANGE}/{ARCHIVE}.part .; "
        f"sync; mv {EXCHANGE}/{ARCHIVE}.part {EXCHANGE}/{ARCHIVE}"
    )


def unpack_script(data_mount: str) -> str:
    """Unpack into the new node's data mount, keeping modes (PostgreSQL insists on 0700)."""
    return (
        f"set -eu; tar -C {shlex.quote(data_mount)} -xzpf {EXCHANGE}/{ARCHIVE} "
        "--no-same-owner; sync"
    )


def _exchange(name: str) -> Path:
    """A fresh host directory the engine's user (another uid) may write into, through its
    bind mount only: its parent stays the worker's alone (0700)."""
    parent = get_settings().state_dir / "snapshot-exchange"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    parent.chmod(0o700)
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    path.chmod(0o777)
    return path


# --- taking a snapshot ----------------------------------------------------------------------


def take(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        snapshot = session.get(Snapshot, ctx.resource_id)
        if snapshot is None or snapshot.status != SnapshotStatus.CREATING:
            return
        instance = load_instance(session, snapshot.instance_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            raise PermanentError("the instance is being deleted")
        bp, key = load_blueprint(instance), object_key(snapshot)
        sealing_key = backup_crypto.keys_for(snapshot.instance_id, snapshot.key_secret)[0]
    _mark_archive(ctx, bp.instance_id)
    exchange = _exchange(ctx.resource_id)
    try:
        _archive(bp, ctx.resource_id, exchange)
        size, digest = seal(exchange / ARCHIVE, exchange / SEALED, sealing_key)
        get_store().put_file(key, str(exchange / SEALED))
    finally:
        shutil.rmtree(exchange, ignore_errors=True)
    with ctx.sessions() as session:
        snapshot = session.get(Snapshot, ctx.resource_id)
        assert snapshot is not None
        snapshot.size, snapshot.checksum, snapshot.object_key = size, digest, key
        op = session.get(Operation, ctx.operation_id)
        if op is not None:  # the node it was taken on (MariaDB: its binlog lineage, pitr.py)
            op.params = {**op.params, "node": bp.primary}
        moved = transitions.move_snapshot(
            session, snapshot.id, SnapshotStatus.READY, only_from={SnapshotStatus.CREATING}
        )
        _instance_ready(session, bp.instance_id)
        session.commit()
    if not moved:  # deleted meanwhile: the object must not outlive its row
        get_store().delete([key])
    log.info("snapshot %s of %s: %d bytes", ctx.resource_id, bp.instance_id, size)


def _mark_archive(ctx: OperationContext, instance_id: str) -> None:
    """What the instance's log archive held before this copy starts: none of it is needed to
    replay from this snapshot (workers/archive_trim.py)."""
    marker = archive_trim.marker(get_store(), instance_id)
    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, archive_trim.MARKER: marker}
            session.commit()


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(backup_crypto.CHUNK):
            yield block


def seal(archive: Path, sealed: Path, key: bytes) -> tuple[int, str]:
    """Encrypt ``archive`` into ``sealed`` (one chunk in memory at a time); the archive's size
    and SHA-256, which a restore checks once decrypted."""
    digest = hashlib.sha256()

    def plain() -> Iterator[bytes]:
        for block in _blocks(archive):
            digest.update(block)
            yield block

    with sealed.open("wb") as out:
        for frame in backup_crypto.encrypt(plain(), key):
            out.write(frame)
    return archive.stat().st_size, digest.hexdigest()


def _archive(bp: Blueprint, snapshot_id: str, exchange: Path) -> None:
    """The archive of a fresh copy of the main node, left in ``exchange``."""
    physical = bp.agent.physical_copy(bp.version.version, EXCHANGE, ARCHIVE)
    if physical is not None:
        _archive_physical(bp, physical, exchange)
        return
    scratch = naming.volume(bp.instance_id, f"snapshot-{snapshot_id[:8]}")
    docker_driver.remove_volume(scratch)
    docker_driver.ensure_named_volume(scratch, naming.labels(bp.instance_id, role="snapshot"))
    try:
        # The copy reads as the replication account, which a standalone source may not have.
        bp.agent.ensure_replication_user(connection(bp, bp.primary), bp.replication_password)
        role = copy_of(bp.container(bp.primary), "snapshot")
        files = bp.agent.clone_files(bp.version.version, role, bp.replication_password)
        clone = bp.agent.clone_command(bp.version.version, role)
        spec = docker_driver.ContainerSpec(
            name=f"{bp.container(bp.primary)}-snapshot", image=bp.image, command=[],
            labels=naming.labels(bp.instance_id), network=naming.network(bp.instance_id),
            user=bp.runtime.user, restart=False, dns_options=nodes.NODE_DNS_OPTIONS,
            mounts={scratch: bp.runtime.data_mount, str(exchange): EXCHANGE},
        )  # fmt: skip
        script = archive_script(clone, bp.runtime.data_mount, bp.runtime.log_dir)
        code, output = docker_driver.run_once(
            spec, ["sh", "-c", script], files, bp.runtime.data_mount, timeout=3600
        )
        if code != 0:
            raise TemporaryError(f"taking the snapshot failed: {output.strip()[-500:]}", delay=5)
    finally:
        docker_driver.remove_volume(scratch)


def _archive_physical(bp: Blueprint, physical: PhysicalCopy, exchange: Path) -> None:
    """Streamed out of the running main node into ``exchange`` (with the node files it needs),
    then made into the archive by a one-shot container of the image (no network)."""
    container = bp.container(bp.primary)
    try:
        with (exchange / physical.stream).open("wb") as out:
            for block in docker_driver.exec_stream(container, physical.command, bp.runtime.user):
                out.write(block)
        for name in physical.kept:
            kept = exchange / physical.kept_dir / name
            kept.parent.mkdir(parents=True, exist_ok=True)
            source = f"{bp.runtime.data_mount}/{name}"
            with kept.open("wb") as out:
                for block in docker_driver.exec_stream(container, ["cat", source], bp.runtime.user):
                    out.write(block)
            kept.chmod(0o644)
    except docker_driver.ExecFailed as exc:
        raise TemporaryError(f"copying the main node failed: {exc}", delay=5) from exc
    for path in (exchange, *exchange.rglob("*")):  # the image's user reads and removes them
        path.chmod(0o777 if path.is_dir() else 0o666)
    spec = docker_driver.ContainerSpec(
        name=f"{container}-snapshot", image=bp.image, command=[],
        labels=naming.labels(bp.instance_id), network=naming.network(bp.instance_id),
        user=bp.runtime.user, restart=False, dns_options=nodes.NODE_DNS_OPTIONS,
        mounts={str(exchange): EXCHANGE},
    )  # fmt: skip
    code, output = docker_driver.run_once(spec, ["sh", "-c", physical.finish], {}, "/", 3600)
    if code != 0:
        raise TemporaryError(f"preparing the snapshot failed: {output.strip()[-500:]}", delay=5)


def _instance_ready(session: Session, instance_id: str) -> None:
    transitions.move_instance(
        session, instance_id, InstanceStatus.READY, only_from={InstanceStatus.SNAPSHOTTING}
    )


def take_failed(ctx: OperationContext, message: str) -> None:
    """The snapshot ends ``error``, nothing stored under its key; the instance, which never
    stopped serving, is ``ready`` again."""
    with ctx.sessions() as session:
        snapshot = session.get(Snapshot, ctx.resource_id)
        if snapshot is None:
            return
        if snapshot.status == SnapshotStatus.CREATING:
            get_store().delete([object_key(snapshot)])  # an attempt may have stored it
            transitions.move_snapshot(
                session, snapshot.id, SnapshotStatus.ERROR, reason=message,
                only_from={SnapshotStatus.CREATING},
            )  # fmt: skip
        _instance_ready(session, snapshot.instance_id)
        session.commit()


# --- deleting -------------------------------------------------------------------------------


def delete(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        snapshot = session.get(Snapshot, ctx.resource_id)
        if snapshot is None:
            return
        get_store().delete([snapshot.object_key or object_key(snapshot)])
        session.delete(snapshot)
        session.commit()


def delete_failed(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        transitions.move_snapshot(
            session, ctx.resource_id, SnapshotStatus.ERROR, reason=message,
            only_from={SnapshotStatus.DELETING},
        )  # fmt: skip
        session.commit()


def expire(sessions: sessionmaker[Session]) -> list[str]:
    """Expired snapshots go through the ordinary deletion (periodic)."""
    with sessions() as session:
        deleting = [
            op for row in expired(session, utcnow()) if (op := start_deletion(session, row))
        ]
        session.commit()
    if deleting:
        log.info("%d expired snapshot(s) deleted", len(deleting))
        operations.publish(sessions, deleting)
    return deleting


# --- a new instance from a snapshot ---------------------------------------------------------


def create_instance(ctx: OperationContext) -> None:
    snapshot_id = str(ctx.params["snapshot_id"])
    with ctx.sessions() as session:
        new = load_instance(session, ctx.resource_id)
        snapshot = session.get(Snapshot, snapshot_id)
        if new is None or new.status == InstanceStatus.DELETING:
            _release(session, snapshot)
            session.commit()
            return
        if snapshot is None or snapshot.object_key is None or snapshot.checksum is None:
            raise PermanentError("the snapshot is gone")
        stored = Stored(
            snapshot.object_key, snapshot.checksum, snapshot.instance_id, snapshot.key_secret
        )
        ensure_node_rows(session, new)
        session.commit()
        bp = load_blueprint(new)
    restore_main_node(bp, stored)
    with ctx.sessions() as session:
        _release(session, session.get(Snapshot, snapshot_id))
        session.commit()
    log.info("instance %s: main node restored from snapshot %s", bp.instance_id, snapshot_id)
    converge_instance(ctx.sessions, bp.instance_id, {})


def _release(session: Session, snapshot: Snapshot | None) -> None:
    """The snapshot is ``ready`` again once the new main node holds its data (or never will)."""
    if snapshot is not None:
        transitions.move_snapshot(
            session, snapshot.id, SnapshotStatus.READY, only_from={SnapshotStatus.RESTORING}
        )


def create_instance_failed(ctx: OperationContext, message: str) -> None:
    mark_error(ctx, message)
    with ctx.sessions() as session:
        _release(session, session.get(Snapshot, str(ctx.params["snapshot_id"])))
        session.commit()


@dataclass(frozen=True)
class Stored:
    key: str
    checksum: str  # of the archive, before encryption
    instance_id: str  # the snapshot's instance: its key opens the object
    key_secret: str  # the key it was sealed with, wrapped by the keyring


def open_into(stored: Stored, archive: Path) -> None:
    """The archive, decrypted into ``archive`` (streamed) and its checksum verified: anything
    else is a permanent error, and the file is not left behind."""
    digest = hashlib.sha256()
    try:
        keys = backup_crypto.keys_for(stored.instance_id, stored.key_secret)
        with archive.open("wb") as out:
            for block in backup_crypto.decrypt(get_store().stream(stored.key), keys):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != stored.checksum:
            raise PermanentError("the snapshot's data does not match its checksum")
    except KeyError as exc:
        archive.unlink(missing_ok=True)
        raise PermanentError("the snapshot's data is gone from the store") from exc
    except backup_crypto.BackupCorrupted as exc:
        archive.unlink(missing_ok=True)
        raise PermanentError(f"the snapshot's data cannot be opened: {exc}") from exc
    except PermanentError:
        archive.unlink(missing_ok=True)
        raise


def restore_main_node(bp: Blueprint, stored: Stored) -> None:
    """The new main node on the snapshot's data (once: its container marks it done)."""
    primary = bp.primary
    if docker_driver.find_container(bp.container(primary)) is not None:
        return
    exchange = _exchange(f"restore-{bp.instance_id}")
    try:
        open_into(stored, exchange / ARCHIVE)
        (exchange / ARCHIVE).chmod(0o644)
        nodes.ensure_instance_network(bp.instance_id)
        spec = nodes.node_spec(bp, primary, nodes.volume_mount(bp, primary))
        unpacker = replace(
            spec, name=f"{spec.name}-restore", command=[], restart=False,
            mounts={**spec.mounts, str(exchange): EXCHANGE},
        )  # fmt: skip
        code, output = docker_driver.run_once(
            unpacker, ["sh", "-c", unpack_script(bp.runtime.data_mount)], {}, "/", timeout=3600
        )
        if code != 0:
            raise TemporaryError(f"unpacking the snapshot failed: {output.strip()[-500:]}")
    finally:
        shutil.rmtree(exchange, ignore_errors=True)
    docker_driver.ensure_container(
        spec, files=bp.config_files(bp.roles[primary]), files_base=bp.runtime.data_mount
    )
