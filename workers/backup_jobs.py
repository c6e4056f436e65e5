"""Backup jobs: dump one database into the backup store, restore it, export it, delete it; and
the periodic expiry.

A dump streams out of a node container (``docker exec``; a standby on HA instances, so the main
node is not loaded) through the per-instance encryption (controlplane/backup_crypto.py) into a
temporary file on the worker, hashed on the way; the store gets the object only once the dump
tool exited 0, and the row turns ``ready`` only after that: nothing half-written is ever
restorable, and a retried job simply dumps again under the same key.

A restore first fetches, verifies (sha256 of the stored bytes, then every frame's
authentication) and decrypts the object into a temporary file, and only then touches the
target instance: the target database is made afresh (an existing one dropped, refused while
sessions use it), the dump loaded, and the privileges users held on the old one given back.
PostgreSQL restores run as the instance's admin user (``pg_restore --role``): whatever a
customer's dump contains (an index expression calling its own function...) runs with the
customer's privileges, never the engine superuser's; objects come back owned by that admin,
without the dump's owners and grants (``--no-owner --no-acl``). MariaDB dumps hold no account
and are loaded over the node's socket; their definers are those the customer could set.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.base import SUPERUSER, PrivilegeInfo
from controlplane import backup_compression, backup_crypto
from controlplane.backup_compression import gzipped
from controlplane.db.base import utcnow
from controlplane.db.models import DatabaseBackup, Instance, Operation
from controlplane.domain import backup_schedule
from controlplane.domain.engine_objects import ObjectRefused
from controlplane.domain.failures import Cancelled, PermanentError, TemporaryError
from controlplane.domain.states import DatabaseBackupStatus, InstanceStatus
from controlplane.logstore import get_store
from controlplane.services import backups as service
from controlplane.services import operations
from controlplane.services.transitions import move_backup, move_instance, settle_instance
from controlplane.settings import get_settings
from workers import docker_driver, faultpoints
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import load_instance
from workers.runner import OperationContext

log = logging.getLogger(__name__)
B = DatabaseBackupStatus
PG_SOCKET = "/var/run/postgresql"
RESTORE_DIR = ".dbaas-restore"


def _work_folder(job: str, backup_id: str) -> Path:
    """A job's own folder on the worker for one backup (create: the encrypted dump being
    written; restore: the decrypted dump): an attempt killed midway leaves files there, which
    the next attempt or the failure hook removes. One attempt at a time: a create holds the
    backup's lock, a restore the instance's while the backup is ``restoring``."""
    return get_settings().state_dir / "backup-work" / f"{job}-{backup_id}"


@contextmanager
def _fresh_folder(job: str, backup_id: str) -> Iterator[str]:
    folder = _work_folder(job, backup_id)
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _backup(session: Session, backup_id: str) -> DatabaseBackup | None:
    return session.get(DatabaseBackup, backup_id)


# --- create ----------------------------------------------------------------------------------


def dump_node(bp: Blueprint) -> str:
    """A running standby when there is one (HA): the main node is not loaded."""
    for node in bp.standbys():
        if docker_driver.container_state(bp.container(node)) == "running":
            return node
    return bp.primary


def dump_command(bp: Blueprint, database: str) -> tuple[list[str], str, dict[str, str]]:
    """(argv, OS user, environment) of a consistent dump of one database, run in the node."""
    if bp.agent.family == "postgresql":
        argv = ["pg_dump", "-h", PG_SOCKET, "-p", str(bp.runtime.port), "-U", SUPERUSER,
                "-Fc", "-Z", "6", "-d", database]  # fmt: skip
        return argv, bp.runtime.user, {"PGPASSWORD": bp.superuser_password}
    # The OS user mysql is mysql@localhost (unix_socket): no password travels.
    tool = "mariadb-dump" if bp.version.engine_name == "MariaDB" else "mysqldump"
    argv = [tool, "--single-transaction", "--triggers", "--routines", "--no-tablespaces",
            "--hex-blob", "--", database]  # fmt: skip
    return argv, bp.runtime.user, {}


class _Counted:
    """Counts and hashes bytes passing through."""

    def __init__(self) -> None:
        self.size = 0
        self.sha256 = hashlib.sha256()

    def through(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            self.size += len(block)
            self.sha256.update(block)
            yield block


def create(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        if backup is None or backup.status != B.CREATING:
            return  # deleted meanwhile, or done by an earlier attempt
        instance = load_instance(session, str(ctx.params["source_id"]))
        if instance is None or instance.status == InstanceStatus.DELETING:
            raise PermanentError("the instance was deleted before its backup was taken")
        bp = load_blueprint(instance)
        database, key = backup.database_name, service.object_key(backup)
        secret = backup_crypto.keys_for(instance.id, backup.key_secret)[0]
    node = dump_node(bp)
    argv, user, env = dump_command(bp, database)
    started = time.monotonic()
    with _fresh_folder("create", ctx.resource_id) as work:
        path = os.path.join(work, "backup.enc")
        plain, stored = _Counted(), _Counted()
        try:
            dump = plain.through(docker_driver.exec_stream(bp.container(node), argv, user, env))
            # pg_dump -Fc compresses itself; a MariaDB SQL dump is gzipped on its way here.
            payload = gzipped(dump) if bp.agent.family == "mysql" else dump
            sealed = backup_crypto.encrypt(payload, secret)
            with open(path, "wb") as out:
                streaming = False
                for block in stored.through(sealed):
                    out.write(block)
                    if plain.size and not streaming:  # dump bytes flow: a crash lands here
                        streaming = True
                        faultpoints.pause("backup_streaming")
        except docker_driver.ExecFailed as exc:
            detail = exc.stderr.strip()[-500:]
            raise PermanentError(f"dumping {database!r} failed: {detail}") from exc
        get_store().put_file(key, path)
    log.info("backup %s of %s on %s: %d bytes in %.1fs", ctx.resource_id, database, node,
             plain.size, time.monotonic() - started)  # fmt: skip
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        op = session.get(Operation, ctx.operation_id)
        if op is not None:  # which node served the dump, for the record
            op.params = {**op.params, "node": node}
        if backup is not None:
            backup.object_key, backup.checksum = key, stored.sha256.hexdigest()
            backup.size = plain.size
        if backup is None or not move_backup(session, ctx.resource_id, B.READY,
                                             only_from={B.CREATING}):  # fmt: skip
            session.rollback()
            get_store().delete([key])  # deleted meanwhile: its object must not linger
            return
        session.commit()


def create_failed(ctx: OperationContext, message: str) -> None:
    shutil.rmtree(_work_folder("create", ctx.resource_id), ignore_errors=True)
    with ctx.sessions() as session:
        move_backup(session, ctx.resource_id, B.ERROR, reason=message, only_from={B.CREATING})
        session.commit()


# --- restore ---------------------------------------------------------------------------------


def fetch_verified(backup_id: str, keys: list[bytes], key: str, checksum: str, out: str) -> int:
    """The decrypted dump into ``out`` (its size); PermanentError, and nothing written, unless
    the stored bytes have the recorded sha256 and every frame authenticates."""
    digest = hashlib.sha256()
    sealed = os.path.join(os.path.dirname(out), "sealed")
    try:
        with open(sealed, "wb") as f:
            for block in get_store().stream(key):
                digest.update(block)
                f.write(block)
    except KeyError:
        raise PermanentError(f"backup {backup_id}: its object is missing from the store") from None
    if digest.hexdigest() != checksum:
        raise PermanentError(f"backup {backup_id}: checksum mismatch, not restored")
    size = 0
    try:
        with open(sealed, "rb") as src, open(out, "wb") as dst:
            for block in backup_compression.plain(backup_crypto.decrypt(_blocks(src), keys)):
                size += len(block)
                dst.write(block)
    except (backup_crypto.BackupCorrupted, backup_compression.CorruptedCompression) as exc:
        raise PermanentError(f"backup {backup_id}: {exc}, not restored") from None
    finally:
        Path(sealed).unlink(missing_ok=True)
    return size


def _blocks(f: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while block := f.read(size):
        yield block


def _tar_of(dump: str, bp: Blueprint, tar_path: str) -> str:
    """A tar holding the dump under RESTORE_DIR, readable by the engine's OS user only."""
    name = f"{RESTORE_DIR}/backup.dump"
    with tarfile.open(tar_path, "w") as tf:
        folder = tarfile.TarInfo(RESTORE_DIR)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o700
        folder.uid, folder.gid, folder.mtime = bp.runtime.uid, bp.runtime.gid, int(time.time())
        tf.addfile(folder)
        info = tf.gettarinfo(dump, arcname=name)
        info.mode, info.uid, info.gid = 0o600, bp.runtime.uid, bp.runtime.gid
        info.uname = info.gname = ""
        with open(dump, "rb") as f:
            tf.addfile(info, f)
    return f"{bp.runtime.data_mount}/{name}"


def restore_command(bp: Blueprint, database: str, path: str, admin: str | None) -> list[str]:
    if bp.agent.family == "postgresql":
        if not admin:
            raise PermanentError("restoring needs the instance's admin user (it owns the data)")
        return ["pg_restore", "-h", PG_SOCKET, "-p", str(bp.runtime.port), "-U", SUPERUSER,
                f"--role={admin}", "--no-owner", "--no-acl", "--exit-on-error",
                "-d", database, path]  # fmt: skip
    client = "mariadb" if bp.version.engine_name == "MariaDB" else "mysql"
    # No shell parsing of either value: they arrive as positional parameters.
    return ["bash", "-c", f'exec {client} --batch --database="$1" < "$2"', "restore",
            database, path]  # fmt: skip


def _fresh_database(bp: Blueprint, database: str, admin: str | None) -> list[PrivilegeInfo]:
    """The target database, empty: an existing one is dropped (refused while in use) and made
    again, the admin user holding all on it (PostgreSQL: it runs the restore). What users held
    on the dropped one is returned, to be given back once the data is in (``_grant_back``)."""
    conn = connection(bp, bp.primary)
    try:
        held: list[PrivilegeInfo] = []
        if any(d.name == database for d in bp.agent.list_databases(conn, False)):
            held = [p for p in bp.agent.list_privileges(conn) if p.database == database]
            bp.agent.drop_database(conn, database)
        bp.agent.create_database(conn, database)
        if admin:
            bp.agent.set_privilege(conn, database, admin, "all")
    except ObjectRefused as exc:
        raise PermanentError(str(exc)) from exc
    return held


def _grant_back(bp: Blueprint, held: list[PrivilegeInfo]) -> None:
    """After the restore, so that table-level grants (PostgreSQL) cover the restored tables."""
    conn = connection(bp, bp.primary)
    for privilege in held:
        if privilege.permission == "none":
            continue
        try:
            bp.agent.set_privilege(conn, privilege.database, privilege.user, privilege.permission)
        except ObjectRefused as exc:  # an owner's, or a user gone meanwhile
            log.info("privilege of %s not given back: %s", privilege.user, exc)


def restore(ctx: OperationContext) -> None:
    target_id, database = str(ctx.params["instance_id"]), str(ctx.params["database_name"])
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        if backup is None or backup.status != B.RESTORING:
            raise Cancelled(f"backup {ctx.resource_id} is being deleted")
        instance = load_instance(session, target_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            raise Cancelled(f"instance {target_id} is being deleted")
        bp = load_blueprint(instance)
        admin = instance.admin_user_name
        source = (backup.id, backup.object_key, backup.checksum)
        keys = backup_crypto.keys_for(backup.instance_id, backup.key_secret)
    backup_id, key, checksum = source
    if not key or not checksum:
        raise PermanentError(f"backup {backup_id} holds no dump")
    container = bp.container(bp.primary)
    with _fresh_folder("restore", backup_id) as work:
        dump = os.path.join(work, "backup.dump")
        size = fetch_verified(backup_id, keys, key, checksum, dump)
        tar_path = os.path.join(work, "restore.tar")
        inside = _tar_of(dump, bp, tar_path)
        Path(dump).unlink()
        held = _fresh_database(bp, database, admin)  # the first change to the instance
        docker_driver.put_archive_file(container, bp.runtime.data_mount, tar_path)
    env = {"PGPASSWORD": bp.superuser_password} if bp.agent.family == "postgresql" else {}
    try:
        for _ in docker_driver.exec_stream(
            container, restore_command(bp, database, inside, admin), bp.runtime.user, env
        ):
            pass
    except docker_driver.ExecFailed as exc:
        raise PermanentError(f"restoring into {database!r} failed: {exc.stderr[-500:]}") from exc
    finally:
        _remove_inside(container, bp)
    _grant_back(bp, held)
    log.info("backup %s restored into %s/%s (%d bytes)", backup_id, target_id, database, size)
    with ctx.sessions() as session:
        instance = load_instance(session, target_id)
        if instance is None:
            raise Cancelled(f"instance {target_id} is gone")
        settle_instance(session, instance, InstanceStatus.READY)
        move_backup(session, backup_id, B.READY, only_from={B.RESTORING})
        session.commit()


def _remove_inside(container: str, bp: Blueprint) -> None:
    try:
        for _ in docker_driver.exec_stream(
            container, ["rm", "-rf", f"{bp.runtime.data_mount}/{RESTORE_DIR}"], bp.runtime.user
        ):
            pass
    except (docker_driver.ExecFailed, TemporaryError, PermanentError) as exc:
        log.warning("%s: restore files not removed: %s", container, exc)


def restore_failed(ctx: OperationContext, message: str) -> None:
    """The backup is intact whatever happened: ready again; the instance leaves backuping."""
    shutil.rmtree(_work_folder("restore", ctx.resource_id), ignore_errors=True)
    with ctx.sessions() as session:
        move_backup(session, ctx.resource_id, B.READY, reason=message, only_from={B.RESTORING})
        target = ctx.params.get("instance_id")
        if isinstance(target, str):
            move_instance(session, target, InstanceStatus.READY, reason=message,
                          only_from={InstanceStatus.BACKUPING})  # fmt: skip
        session.commit()


# --- export, delete, expiry ------------------------------------------------------------------


def export(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        if backup is None or backup.status != B.EXPORTING:
            return
        key = backup.object_key or ""
    if not key or not get_store().objects(key):
        raise PermanentError(f"backup {ctx.resource_id}: its object is missing from the store")
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        if backup is not None:
            backup.download_url_expires_at = service.download_expiry()
            if move_backup(session, backup.id, B.READY, only_from={B.EXPORTING}):
                session.commit()


def export_failed(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        move_backup(session, ctx.resource_id, B.READY, reason=message, only_from={B.EXPORTING})
        session.commit()


def delete(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        backup = _backup(session, ctx.resource_id)
        if backup is None:
            return
        _drop(session, backup)
        session.commit()


def _drop(session: Session, backup: DatabaseBackup) -> None:
    """Its object first, then its row: a crash between leaves a row to delete again."""
    get_store().delete([backup.object_key or service.object_key(backup)])
    session.delete(backup)


def delete_failed(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        move_backup(session, ctx.resource_id, B.ERROR, reason=message, only_from={B.DELETING})
        session.commit()


def expire_all(sessions: sessionmaker[Session]) -> int:
    """Every backup past ``expires_at`` goes, object and row, also of deleted instances; one
    busy (restoring, exporting, being made) waits for the next pass."""
    now, dropped = utcnow(), 0
    with sessions() as session:
        ids = list(session.scalars(select(DatabaseBackup.id).where(
            DatabaseBackup.expires_at < now)))  # fmt: skip
    for backup_id in ids:
        with sessions() as session:
            row = _backup(session, backup_id)
            if row is None or (row.status != B.DELETING and not move_backup(
                session, backup_id, B.DELETING, only_from={B.READY, B.ERROR, B.LOCKED}, row=row
            )):  # fmt: skip
                continue
            _drop(session, row)
            session.commit()
            dropped += 1
    return dropped


# --- schedule --------------------------------------------------------------------------------


def schedule_all(sessions: sessionmaker[Session], now: datetime | None = None) -> list[str]:
    """Every ready instance with backups enabled whose latest run is due and not yet taken gets
    one backup per database, kept ``retention`` days (domain/backup_schedule.py)."""
    now = now or utcnow()
    with sessions() as session:
        candidates = session.scalars(
            select(Instance).where(
                Instance.status == InstanceStatus.READY.value,
                Instance.backup_schedule_disabled.is_(False),
            )
        ).all()
        due = []
        for instance in candidates:
            run = backup_schedule.last_due(
                instance.created_at,
                instance.backup_schedule_frequency,
                instance.backup_schedule_start_hour,
                now,
            )
            if run is not None and not _taken_since(session, instance.id, run):
                due.append((instance.id, run))
    published: list[str] = []
    for instance_id, run in due:
        try:
            published += _take_scheduled(sessions, instance_id, run)
        except (TemporaryError, PermanentError) as exc:  # the next pass tries again
            log.warning("instance %s: scheduled backups not taken: %s", instance_id, exc)
    if published:
        operations.publish(sessions, published)
    return published


def _taken_since(session: Session, instance_id: str, run: datetime) -> bool:
    """The run's backups exist (their names say which run made them)."""
    found = select(DatabaseBackup.id).where(
        DatabaseBackup.instance_id == instance_id,
        DatabaseBackup.name.startswith(backup_schedule.SCHEDULED_PREFIX),
        DatabaseBackup.name.endswith(backup_schedule.run_suffix(run)),
    )
    return session.scalar(found.limit(1)) is not None


def _take_scheduled(sessions: sessionmaker[Session], instance_id: str, run: datetime) -> list[str]:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or instance.status != InstanceStatus.READY:
            return []
        bp = load_blueprint(instance)
    databases = [d.name for d in bp.agent.list_databases(connection(bp, bp.primary), False)]
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or _taken_since(session, instance_id, run):
            return []
        expires_at = run + timedelta(days=instance.backup_schedule_retention)
        ops = []
        for name in databases:
            label = backup_schedule.scheduled_name(name, run)
            ops.append(service.record_backup(session, instance, name, label, expires_at))
        session.commit()
    log.info("instance %s: scheduled backups of %s (run %s)", instance_id, databases, run)
    return [submitted.operation_id for submitted in ops]
