"""The pure pieces of snapshots: their state machine, the archive scripts, what a snapshot keeps
of its instance."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import pytest

from controlplane import backup_crypto
from controlplane.db.models import AclRule, Instance, Snapshot
from controlplane.domain import states
from controlplane.domain.states import InvalidTransition, SnapshotStatus
from controlplane.services.snapshots import (
    SECRET_FIELDS,
    SOURCE_FIELDS,
    instance_from_source,
    source_of,
)
from workers import snapshot_jobs


def test_every_snapshot_status_has_a_row_and_waiters_agree() -> None:
    from scaleway.rdb.v1.content import SNAPSHOT_TRANSIENT_STATUSES

    assert set(states.SNAPSHOT_TRANSITIONS) == set(SnapshotStatus)
    assert {s.value for s in states.SNAPSHOT_TRANSIENT} == {
        str(s) for s in SNAPSHOT_TRANSIENT_STATUSES
    }


def test_snapshot_moves() -> None:
    assert states.check_snapshot_transition("creating", "ready") == "ready"
    assert states.check_snapshot_transition("ready", "deleting") == "deleting"
    for current, target in (("creating", "restoring"), ("deleting", "ready"), ("error", "ready")):
        with pytest.raises(InvalidTransition):
            states.check_snapshot_transition(current, target)


def _run(script: str, base: Path) -> None:
    """The script with its container paths mapped into ``base``."""
    script = script.replace(snapshot_jobs.EXCHANGE, str(base / "exchange"))
    subprocess.run(["sh", "-c", script], check=True, cwd=base)


def test_the_archive_leaves_secrets_and_logs_out_and_appears_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "pgdata").mkdir(parents=True)
    (data / "pgdata" / "PG_VERSION").write_text("15\n")
    (data / "pgdata").chmod(0o700)
    (data / ".pgpass").write_text("*:*:*:replicator:secret\n")
    (data / ".dbaas-clone").mkdir()
    (data / ".dbaas-clone" / "primary.cnf").write_text("password = secret\n")
    (data / "log").mkdir()
    (data / "log" / "postgresql.log").write_text("a line\n")
    (tmp_path / "exchange").mkdir()
    script = snapshot_jobs.archive_script(["true"], str(data), "log")
    assert script.index(f"{snapshot_jobs.ARCHIVE}.part .") < script.index("mv ")
    _run(script, tmp_path)
    archive = tmp_path / "exchange" / snapshot_jobs.ARCHIVE
    with tarfile.open(archive, mode="r:gz") as tar:
        names = {n.removeprefix("./") for n in tar.getnames()}
    assert "pgdata/PG_VERSION" in names
    assert not {n for n in names if n.startswith((".pgpass", ".dbaas-clone", "log"))}
    assert not (tmp_path / "exchange" / f"{snapshot_jobs.ARCHIVE}.part").exists()

    target = tmp_path / "restored"
    target.mkdir()
    _run(snapshot_jobs.unpack_script(str(target)), tmp_path)
    assert (target / "pgdata" / "PG_VERSION").read_text() == "15\n"
    assert (target / "pgdata").stat().st_mode & 0o777 == 0o700  # PostgreSQL insists


def test_a_failed_copy_archives_nothing(tmp_path: Path) -> None:
    (tmp_path / "exchange").mkdir()
    script = snapshot_jobs.archive_script(["false"], str(tmp_path), "log")
    script = script.replace(snapshot_jobs.EXCHANGE, str(tmp_path / "exchange"))
    assert subprocess.run(["sh", "-c", script], check=False).returncode != 0
    assert list((tmp_path / "exchange").iterdir()) == []


def test_a_snapshot_keeps_what_a_new_instance_needs() -> None:
    instance = Instance(
        organization_id="o", project_id="p", region="fr-par", name="src", engine="MariaDB-11.4",
        node_type="db-dev-m", is_ha_cluster=True, high_availability_mode="single_zone",
        tags=["a"], settings=[{"name": "max_connections", "value": "50"}], init_settings=[],
        volume_type="lssd", volume_size=10, backup_schedule_frequency=24,
        backup_schedule_retention=7, backup_schedule_disabled=True,
        backup_schedule_start_hour=None, logs_max_age_retention=30,
        logs_total_disk_retention=None, backup_same_region=False, admin_user_name="admin",
        superuser_secret="enc-1", replication_secret="enc-2",
        acl_rules=[AclRule(ip="10.0.0.0/8", description="office")],
    )  # fmt: skip
    source = source_of(instance)
    assert "enc-1" not in str(source)  # kept in columns that key rotation re-encrypts
    snapshot = Snapshot(
        organization_id="o", project_id="p", region="fr-par", source=source,
        superuser_secret="enc-1", replication_secret="enc-2",
    )  # fmt: skip
    again = instance_from_source(snapshot)
    fields = (*SOURCE_FIELDS, *SECRET_FIELDS)
    assert {f: getattr(again, f) for f in fields} == {f: getattr(instance, f) for f in fields}
    assert [(r.ip, r.description) for r in again.acl_rules] == [("10.0.0.0/8", "office")]


def test_sealed_archives_open_only_with_their_instance_key(tmp_path: Path) -> None:
    archive, sealed = tmp_path / "a.tar.gz", tmp_path / "a.sealed"
    archive.write_bytes(b"data " * 500_000)  # several encryption frames
    size, digest = snapshot_jobs.seal(archive, sealed, backup_crypto.current_key("instance-1"))
    assert (size, digest) == (2_500_000, hashlib.sha256(archive.read_bytes()).hexdigest())
    stored = sealed.read_bytes()
    assert b"data data" not in stored
    opened = b"".join(backup_crypto.decrypt([stored], backup_crypto.all_keys("instance-1")))
    assert opened == archive.read_bytes()
    with pytest.raises(backup_crypto.BackupCorrupted):
        b"".join(backup_crypto.decrypt([stored], backup_crypto.all_keys("instance-2")))
