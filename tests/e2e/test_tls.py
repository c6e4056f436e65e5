"""TLS: the certificate from the API verifies every node; renewing it invalidates the old one
without breaking open sessions, HA replication or read replicas."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from scaleway import WaitForOptions
from scaleway.rdb.v1 import RdbV1API

from controlplane import certificates
from controlplane.db.models import Instance
from controlplane.db.session import session_factory, session_scope
from tests.support.ha import wait_ha_again

USER, PASSWORD = "tls_admin", "Tls-Passw0rd!"
pytestmark = pytest.mark.docker


def wait() -> WaitForOptions:  # type: ignore[type-arg]
    return WaitForOptions(timeout=300, min_delay=1, max_delay=2)


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


FAMILIES: dict[str, tuple[str, Callable[[str, int, Path], Any], type[Exception]]] = {
    "postgresql": ("PostgreSQL-15", pg_verified, psycopg.OperationalError),
}


def _download(rdb: RdbV1API, instance_id: str, path: Path) -> Path:
    cert = rdb.get_instance_certificate(instance_id=instance_id)
    assert cert.name == "ssl_certificate" and cert.content_type == "application/x-pem-file"
    pem = base64.b64decode(cert.content)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def secured(
    request: pytest.FixtureRequest, rdb: RdbV1API
) -> Iterator[tuple[str, str, str, Callable[[str, int, Path], Any], type[Exception]]]:
    engine, connect, refused = FAMILIES[request.param]
    created = rdb.create_instance(
        engine=engine,
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
    yield created.id, replica.id, request.param, connect, refused
    rdb.wait_for_instance(instance_id=created.id, options=wait())
    rdb.delete_instance(instance_id=created.id)


def test_verified_connections_and_renewal(
    rdb: RdbV1API,
    tmp_path: Path,
    secured: tuple[str, str, str, Callable[..., Any], type[Exception]],
) -> None:
    instance_id, replica_id, _, connect, refused = secured
    main = rdb.get_instance(instance_id=instance_id).endpoints[0]
    replica_endpoint = rdb.get_read_replica(read_replica_id=replica_id).endpoints[0]
    old_cert = _download(rdb, instance_id, tmp_path / "old.pem")

    with closing(connect(main.ip, main.port, old_cert)) as conn:
        assert conn.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() == (True,)
        conn.execute("CREATE TABLE tls_probe (id int PRIMARY KEY)")
        conn.commit()
    with closing(connect(replica_endpoint.ip, replica_endpoint.port, old_cert)):
        pass  # the replica serves the same certificate

    stranger = tmp_path / "stranger.pem"
    stranger.write_text(certificates.issue("someone-else", "fr-par", ["127.0.0.1"]).cert_pem)
    with pytest.raises(refused):
        connect(main.ip, main.port, stranger)

    wait_ha_again(instance_id)
    session = connect(main.ip, main.port, old_cert)  # stays open across the renewal
    assert rdb.renew_instance_certificate(instance_id=instance_id) is None
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    new_cert = _download(rdb, instance_id, tmp_path / "new.pem")
    assert new_cert.read_bytes() != old_cert.read_bytes()

    assert session.execute("SELECT 1").fetchone() == (1,)  # the open session survived
    session.close()
    with pytest.raises(refused):
        connect(main.ip, main.port, old_cert)  # the previous certificate no longer verifies
    with closing(connect(main.ip, main.port, new_cert)) as conn:
        conn.execute("INSERT INTO tls_probe VALUES (1)")  # synchronous: the standby applied it
        conn.commit()
        states = dict(
            conn.execute("SELECT application_name, sync_state FROM pg_stat_replication").fetchall()
        )
        assert states.get("n2", states.get("n1")) == "sync" and states.get("r1") == "async", states
    deadline = time.monotonic() + 30
    while True:
        with closing(connect(replica_endpoint.ip, replica_endpoint.port, new_cert)) as conn:
            if conn.execute("SELECT count(*) FROM tls_probe").fetchone() == (1,):
                break
        assert time.monotonic() < deadline, (
            "the row written after renewal never reached the replica"
        )
        time.sleep(0.2)
    with pytest.raises(refused):
        connect(replica_endpoint.ip, replica_endpoint.port, old_cert)


def test_certificates_close_to_expiry_are_renewed_and_announced(
    rdb: RdbV1API, secured: tuple[str, str, str, Callable[..., Any], type[Exception]]
) -> None:
    instance_id = secured[0]
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    before = rdb.get_instance_certificate(instance_id=instance_id).content
    with session_scope() as session:  # pretend a year went by
        row = session.get(Instance, instance_id)
        assert row is not None
        row.tls_expires_at = certificates.utcnow() + certificates.RENEW_BEFORE / 2
    assert any(i.id == instance_id for i in rdb.list_instances_all(has_maintenances=True))
    deadline = time.monotonic() + 60
    while rdb.get_instance_certificate(instance_id=instance_id).content == before:
        assert time.monotonic() < deadline, "the periodic job never renewed the certificate"
        time.sleep(1)
    rdb.wait_for_instance(instance_id=instance_id, options=wait())
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None and row.tls_expires_at is not None
        assert not certificates.due_for_renewal(row.tls_expires_at)
    assert rdb.get_instance(instance_id=instance_id).maintenances == []
