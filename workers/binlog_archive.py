"""Continuous binlog archiving (MariaDB point-in-time recovery).

MariaDB main nodes already write binlogs (replication; ``binlog_expire_logs_seconds`` keeps
them 7 days, far longer than the one-minute pass that archives them). The collector (Celery
beat, beside the WAL collector) reads every *closed* binlog of an instance's main node from the
host side of its volume (``binlog.index`` lists them oldest first; the last one is still being
written) and stores it encrypted with the instance's backup key under
``binlog/<instance>/<server_id>/<file>``, while the instance has a snapshot to start from. The
node keeps its files: replication and the server's own expiry own them. What is stored is the
position: a file already in the store is not stored again, so a pass killed half-way simply
stores the rest next time.

``server_id`` names a lineage: the data directory that wrote those files (drawn when it was
created or cloned, ``conf/05-init.cnf``). After a failover the new main node writes its own
lineage, whose numbering starts anew; a snapshot's binlog position belongs to the lineage of
the node it was taken from, so a restore replays only that one (agents/mysql/physical.py).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.mysql.conf import INIT_FILE
from controlplane import backup_crypto
from controlplane.db.models import Instance, Snapshot
from controlplane.domain.failures import PermanentError
from controlplane.logstore import LogStore, get_store
from controlplane.services.pitr import BASES, with_base
from workers.log_collector import COLLECTED, volume_root

log = logging.getLogger(__name__)
SLACK = 5.0  # seconds of doubt about a file closed just before a snapshot was requested
INDEX = "data/binlog.index"  # agents/mysql/conf.py: log_bin = DATA_DIR/binlog
PREFIX = "binlog/"
_SERVER_ID = re.compile(r'^\s*server_id\s*=\s*"?(\d+)"?\s*$', re.MULTILINE)


def binlog_prefix(instance_id: str) -> str:
    return f"{PREFIX}{instance_id}/"


@dataclass(frozen=True)
class MainNode:
    instance_id: str
    root: Path  # the host side of its volume
    # The oldest snapshot's request: a binlog closed before it is never replayed (the node's
    # binlogs from before the instance's first snapshot are not uploaded).
    since: datetime | None = None


def server_id(init_cnf: str) -> str | None:
    """The lineage a data directory's binlogs belong to (the last ``server_id`` wins)."""
    found = _SERVER_ID.findall(init_cnf)
    return found[-1] if found else None


def closed_binlogs(index: str) -> list[str]:
    """The file names ``binlog.index`` lists, the current (last) one left out."""
    names = [Path(line.strip()).name for line in index.splitlines() if line.strip()]
    return names[:-1]


# --- collecting -----------------------------------------------------------------------------


def collect_all(sessions: sessionmaker[Session]) -> int:
    return sum(collect(get_store(), m) for m in _main_nodes(sessions))


def collect_instance(sessions: sessionmaker[Session], instance_id: str) -> int:
    return sum(collect(get_store(), m) for m in _main_nodes(sessions, instance_id))


def _main_nodes(sessions: sessionmaker[Session], instance_id: str | None = None) -> list[MainNode]:
    """The main node of every instance with a snapshot to start from that writes binlogs."""
    query = select(Instance).where(Instance.status.in_(COLLECTED))
    if instance_id is not None:
        query = query.where(Instance.id == instance_id)
    found = []
    with sessions() as session:
        oldest = _oldest_bases(session)
        for instance in session.scalars(query):
            if instance.id not in oldest:
                continue
            for node in instance.nodes:
                if node.role != "primary":
                    continue
                root = volume_root(instance.id, node.name)
                if root is not None and (root / INDEX).is_file():
                    found.append(MainNode(instance.id, root, oldest[instance.id]))
    return found


def _oldest_bases(session: Session) -> dict[str, datetime]:
    """When the oldest snapshot a restore may start from was requested, per instance."""
    query = (
        select(Snapshot.instance_id, func.min(Snapshot.created_at))
        .where(Snapshot.status.in_(BASES))
        .group_by(Snapshot.instance_id)
    )
    return {instance_id: at for instance_id, at in session.execute(query)}


def collect(store: LogStore, main: MainNode) -> int:
    """Every closed binlog of the node not yet in the store, stored (whole, encrypted)."""
    try:
        lineage = server_id((main.root / INIT_FILE).read_text())
        names = closed_binlogs((main.root / INDEX).read_text())
    except FileNotFoundError:
        return 0  # being cloned or removed: the next pass sees it settled
    if lineage is None:
        return 0
    prefix = f"{binlog_prefix(main.instance_id)}{lineage}/"
    stored = {o.key for o in store.objects(prefix)}
    count = 0
    for name in names:
        path = main.root / "data" / name
        if prefix + name in stored or not path.is_file():
            continue  # archived already, or purged before we ever had a base
        if main.since is not None and path.stat().st_mtime < main.since.timestamp() - SLACK:
            continue  # closed before the oldest snapshot started
        _put_sealed(store, prefix + name, path, backup_crypto.current_key(main.instance_id))
        count += 1
    if count:
        log.info("instance %s: %d binlog file(s) archived", main.instance_id, count)
    return count


def _put_sealed(store: LogStore, key: str, path: Path, secret: bytes) -> None:
    """Encrypted into a temporary file one chunk at a time (binlogs reach 1 GiB), then stored."""

    def blocks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while block := f.read(backup_crypto.CHUNK):
                yield block

    with tempfile.NamedTemporaryFile(prefix="binlog-", suffix=".sealed") as sealed:
        for frame in backup_crypto.encrypt(blocks(), secret):
            sealed.write(frame)
        sealed.flush()
        store.put_file(key, sealed.name)


def expire(sessions: sessionmaker[Session]) -> list[str]:
    """The archived binlogs of instances left without a snapshot are removed (periodic)."""
    store = get_store()
    archived = {o.key.split("/")[1] for o in store.objects(PREFIX) if o.key.count("/") == 3}
    with sessions() as session:
        orphaned = sorted(archived - with_base(session))
    for instance_id in orphaned:
        store.delete_prefix(binlog_prefix(instance_id))
    if orphaned:
        log.info("archived binlogs of %d instance(s) without a snapshot removed", len(orphaned))
    return orphaned


# --- restoring ------------------------------------------------------------------------------


def fetch_binlogs(source_id: str, into: Path) -> int:
    """Every archived binlog of the source, decrypted into ``into/<server_id>/`` (readable by
    the engine's user): the replay picks the lineage of its snapshot."""
    store, keys = get_store(), backup_crypto.all_keys(source_id)
    into.mkdir()
    into.chmod(0o755)
    count = 0
    for obj in store.objects(binlog_prefix(source_id)):
        lineage, name = obj.key.split("/")[2:4]
        folder = into / lineage
        if not folder.is_dir():
            folder.mkdir()
            folder.chmod(0o755)
        target = folder / name
        try:
            with target.open("wb") as out:
                for block in backup_crypto.decrypt(store.stream(obj.key), keys):
                    out.write(block)
        except backup_crypto.BackupCorrupted as exc:
            raise PermanentError(f"archived binlog {name} cannot be opened: {exc}") from exc
        target.chmod(0o644)
        count += 1
    return count
