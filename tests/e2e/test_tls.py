"""TLS: the certificate from the API verifies every node; renewing it invalidates the old one
without breaking open sessions, HA replication or read replicas."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from scaleway import WaitForOptions
from scaleway.rdb.v1 import RdbV1API

from controlplane import certificates
from controlplane.db.models import Instance
from controlplane.db.session import session_factory, session_scope
from tests.support.engine import blueprint
from tests.support.ha import wait_ha_again
from workers.blueprint import connection

USER, PASSWORD = "tls_admin", "Tls-Passw0rd!"
VERIFY_FAILED = "(?i)certificate verify failed"
pytestmark = pytest.mark.docker


def wait() -> WaitForOptions:  # type: ignore[type-arg]
    return WaitForOptions(timeout=300, min_delay=1, max_delay=2)


def run(conn: Any, statement: str) -> None:
    with closing(conn.cursor()) as cursor:
        cursor.execute(statement)


def one(conn: Any, statement: str) -> Any:
    with closing(conn.cursor()) as cursor:
        cursor.execute(statement)
        return cursor.fetchone()


def rows(conn: Any, statement: str) -> list[Any]:
    with closing(conn.cursor()) as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


@dataclass(frozen=True)
class Family:
    """What differs per engine: the verifying client, and SQL the admin user may run."""

    engine: str
    connect: Callable[[str, int, Path], Any]  # verifies the chain and the host name
    refused: type[Exception]  # what a failed verification raises
    encrypted: Callable[[Any], bool]  # is this session TLS?


def pg_verified(host: str, port: int, ca_file: Path) -> Any:
    return psycopg.connect(
        host=host,
        port=port,
        user=USER,
        password=PASSWORD,
        dbname="rdb",
        connect_timeout=5,
        sslmode="verify-full",
        sslrootcert=str(ca_file),
    )


def pg_encrypted(conn: Any) -> bool:
    return one(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == (True,)


def mariadb_verified(host: str, port: int, ca_file: Path) -> Any:
    # ssl_ca, not ssl={"ca": ...}: PyMySQL 1.2 drops that dict when ssl_verify_* are given
    # and verifies against the system CAs instead.
    return pymysql.connect(
        host=host,
        port=port,
        user=USER,
        password=PASSWORD,
        database="rdb",
        connect_timeout=5,
        ssl_ca=str(ca_file),
        ssl_verify_cert=True,
        ssl_verify_identity=True,
    )


def mariadb_encrypted(conn: Any) -> bool:
    version = one(conn, "SHOW SESSION STATUS LIKE 'Ssl_version'")
    return version is not None and version[1] in ("TLSv1.2", "TLSv1.3")


def replication(instance_id: str) -> tuple[bool, bool, object]:
    """As the main node reports it to the control plane (the customer's admin may not watch
    replication on MariaDB): the standby is synchronous, the read replica streams."""
    bp = blueprint(instance_id)
    states = bp.agent.replication_state(connection(bp, bp.primary))
    standby, replica = bp.standbys()[0], bp.replicas()[0]
    synchronous = standby in states and states[standby].synchronous
    streaming = replica in states and states[replica].streaming
    return synchronous, streaming and not states[replica].synchronous, states


def mariadb(engine: str) -> Family:
    return Family(
        engine,
        mariadb_verified,
        pymysql.err.OperationalError,
        mariadb_encrypted,
    )


FAMILIES: dict[str, Family] = {
    "postgresql": Family("PostgreSQL-15", pg_verified, psycopg.OperationalError, pg_encrypted),
    "mariadb-10.11": mariadb("MariaDB-10.11"),
    "mariadb-11.8": mariadb("MariaDB-11.8"),
}


def _download(rdb: RdbV1API, instance_id: str, path: Path) -> Path:
    cert = rdb.get_instance_certificate(instance_id=instance_id)
    assert cert.name == "ssl_certificate" and cert.content_type == "application/x-pem-file"
    pem = base64.b64decode(cert.content)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def secured(request: pytest.FixtureRequest, rdb: RdbV1API) -> Iterator[tuple[str, str, Family]]:
    family = FAMILIES[request.param]
    created = rdb.create_instance(
        engine=family.engine,
        user_name=USER,
        password=PASSWORD,
        node_type="db-dev-s",
        is_ha_cluster=True,
        disable_backup=True,
        volume_size=0,
        backup_same_region=False,
        name=f"tls-{request.param}",
    )
    rdb.wait_for_instance(instance_id=created.id, options=wait())
    replica = rdb.create_read_replica(instance_id=created.id)
    replica = rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
    yield created.id, replica.id, family
    rdb.wait_for_instance(instance_id=created.id, options=wait())
    rdb.delete_instance(instance_id=created.id)


def test_verified_connections_and_renewal(
    rdb: RdbV1API, tmp_path: Path, secured: tuple[str, str, Family]
) -> None:
    instance_id, replica_id, family = secured
    connect, refused = family.connect, family.refused
    main = rdb.get_instance(instance_id=instance_id).endpoints[0]
    replica_endpoint = rdb.get_read_replica(read_replica_id=replica_id).endpoints[0]
    old_cert = _download(rdb, instance_id, tmp_path / "old.pem")

    with closing(connect(main.ip, main.port, old_cert)) as conn:
        assert family.encrypted(conn)
        run(conn, "CREATE TABLE tls_probe (id int PRIMARY KEY)")
        conn.commit()
    with closing(connect(replica_endpoint.ip, replica_endpoint.port, old_cert)) as conn:
        assert family.encrypted(conn)  # the replica serves the same certificate

    stranger = tmp_path / "stranger.pem"
    stranger.write_text(certificates.issue("someone-else", "fr-par", ["127.0.0.1"]).cert_pem)
    with pytest.raises(refused, match=VERIFY_FAILED):
        connect(main.ip, main.port, stranger)

    wait_ha_again(instance_id)
    session = connect(main.ip, main.port, old_cert)  # stays open across the renewal
    assert rdb.renew_instance_certificate(instance_id=instance_id) is None
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    new_cert = _download(rdb, instance_id, tmp_path / "new.pem")
    assert new_cert.read_bytes() != old_cert.read_bytes()

    assert one(session, "SELECT 1") == (1,)  # the open session survived
    session.close()
    with pytest.raises(refused, match=VERIFY_FAILED):
        connect(main.ip, main.port, old_cert)  # the previous certificate no longer verifies
    with closing(connect(main.ip, main.port, new_cert)) as conn:
        assert family.encrypted(conn)
        run(conn, "INSERT INTO tls_probe VALUES (1)")  # synchronous: the standby has it
        conn.commit()
        standby_sync, replica_streaming, details = replication(instance_id)
        assert standby_sync and replica_streaming, details
    deadline = time.monotonic() + 30
    while True:
        with closing(connect(replica_endpoint.ip, replica_endpoint.port, new_cert)) as conn:
            if one(conn, "SELECT count(*) FROM tls_probe") == (1,):
                break
        assert time.monotonic() < deadline, (
            "the row written after renewal never reached the replica"
        )
        time.sleep(0.2)
    with pytest.raises(refused, match=VERIFY_FAILED):
        connect(replica_endpoint.ip, replica_endpoint.port, old_cert)


def _expires_in(instance_id: str, days: int) -> None:
    """Pretend the certificate is that close to its expiry."""
    with session_scope() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        row.tls_expires_at = certificates.utcnow() + timedelta(days=days)


def _pending(rdb: RdbV1API, instance_id: str) -> list[Any]:
    return [m for m in rdb.get_instance(instance_id=instance_id).maintenances if m.is_applicable]


def test_certificates_close_to_expiry_are_announced_applied_and_forced(
    rdb: RdbV1API, secured: tuple[str, str, Family]
) -> None:
    """30 days before expiry a renewal is announced (the user may apply it); 14 days before,
    it is applied without the user."""
    instance_id = secured[0]
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    before = rdb.get_instance_certificate(instance_id=instance_id).content
    _expires_in(instance_id, 20)
    deadline = time.monotonic() + 60
    while not _pending(rdb, instance_id):
        assert time.monotonic() < deadline, "the renewal was never announced"
        time.sleep(1)
    (announced,) = _pending(rdb, instance_id)
    assert announced.reason.startswith("TLS certificate renewal")
    assert announced.forced_at is not None and announced.forced_at > certificates.utcnow()
    assert any(i.id == instance_id for i in rdb.list_instances_all(has_maintenances=True))
    applied = rdb.apply_instance_maintenance(instance_id=instance_id)
    assert applied.status == "ongoing"
    renewed = rdb.get_instance_certificate(instance_id=instance_id).content
    assert renewed != before  # issued at once, installed by the job
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    assert _pending(rdb, instance_id) == []
    assert [m.status for m in rdb.get_instance(instance_id=instance_id).maintenances] == ["done"]

    _expires_in(instance_id, 10)  # past the forced date: renewed without the user
    deadline = time.monotonic() + 60
    while rdb.get_instance_certificate(instance_id=instance_id).content == renewed:
        assert time.monotonic() < deadline, "the periodic job never renewed the certificate"
        time.sleep(1)
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None and row.tls_expires_at is not None
        assert not certificates.due_for_renewal(row.tls_expires_at)
    assert _pending(rdb, instance_id) == []
    assert not any(i.id == instance_id for i in rdb.list_instances_all(has_maintenances=True))
