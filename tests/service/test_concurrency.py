"""Guarded state changes hold under concurrency on SQLite and PostgreSQL alike.

N creates at once against a quota (or a host) that fits K admit exactly K; N identical
mutations at once (promote, delete, renew, create replica) leave exactly the state one of them
would have left, every other request getting the right answer. Real stores (fresh, migrated),
real threads, the real use cases."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.api.schemas.instances import CreateInstanceRequest
from controlplane.db.models import Instance, Operation, Organization, ReadReplica
from controlplane.domain.errors import ApiError
from controlplane.services import capacity, instances, replicas, tenancy
from controlplane.services.tenancy import Principal
from tests.support.stores import migrated

GB = 1_000_000_000


def _tenant(sessions: sessionmaker[Session], **quota: int) -> Principal:
    with sessions() as session:
        org = tenancy.create_organization(session, "admission")
        project = tenancy.create_project(session, org.id, "default")
        for name, value in quota.items():
            setattr(org, f"quota_{name}", value)
        session.commit()
        return Principal("SCWTEST", org.id, frozenset({project.id}), project.id)


def _request(i: int, ha: bool = False) -> CreateInstanceRequest:
    return CreateInstanceRequest.model_validate(
        {
            "engine": "PostgreSQL-15",
            "name": f"concurrent-{i}",
            "user_name": "admin",
            "password": "Passw0rd!x",
            "node_type": "db-dev-s",  # 2 GB
            "is_ha_cluster": ha,
            "volume_type": "lssd",
        }
    )


def _race(n: int, attempt: Any) -> Counter[str]:
    """``attempt(i)`` in n threads released at once: outcomes by error type (or "ok")."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            outcomes.append("ok")
        except ApiError as exc:
            outcomes.append(exc.error_type)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return Counter(outcomes)


def _creates(sessions: sessionmaker[Session], principal: Principal, ha: bool = False) -> Any:
    def attempt(i: int) -> None:
        with sessions() as session:
            instances.create(session, principal, "fr-par", _request(i, ha))

    return attempt


def _instances(sessions: sessionmaker[Session], organization_id: str) -> int:
    with sessions() as session:
        query = select(func.count()).where(Instance.organization_id == organization_id)
        return int(session.scalar(query.select_from(Instance)) or 0)


def test_instance_quota(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions, instances=3)
    outcomes = _race(8, _creates(sessions, principal))
    assert outcomes == Counter({"ok": 3, "quotas_exceeded": 5})
    assert _instances(sessions, principal.organization_id) == 3


def test_memory_quota_counts_every_node(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions, memory_bytes=5 * GB)  # two HA nodes of 2 GB fit, not four
    outcomes = _race(4, _creates(sessions, principal, ha=True))
    assert outcomes == Counter({"ok": 1, "quotas_exceeded": 3})
    with sessions() as session:
        org = session.get(Organization, principal.organization_id)
        assert org is not None
        error = capacity.exceeded(
            capacity.quota_of(org, capacity.host_memory_bytes()),
            capacity.Usage(1, 4 * GB, 0),
            capacity.Usage(1, 4 * GB, 0),
        )
        assert error is not None and error.body()["details"] == [
            {"resource": "memory_bytes", "current": 4 * GB, "quota": 5 * GB}
        ]


def test_host_capacity_is_reserved_at_admission(
    metadata_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that schedules 4 GB (2 GB of memory, overcommitted twice) takes two nodes."""
    monkeypatch.setattr(capacity, "host_memory_bytes", lambda: 2 * GB)
    sessions = migrated(metadata_store)
    principal = _tenant(sessions, memory_bytes=100 * GB)
    outcomes = _race(6, _creates(sessions, principal))
    assert outcomes == Counter({"ok": 2, "out_of_stock": 4})
    assert _instances(sessions, principal.organization_id) == 2


def test_read_replica_quota(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    with sessions() as session:
        instance, _ = instances.create(session, principal, "fr-par", _request(0))
        instance.status = "ready"
        session.commit()
        instance_id = instance.id

    def attempt(i: int) -> None:
        with sessions() as session:
            replicas.create(session, principal, "fr-par", instance_id, [], True)

    assert _race(6, attempt) == Counter({"ok": 3, "quotas_exceeded": 3})
    with sessions() as session:
        rows = session.scalars(select(ReadReplica).where(ReadReplica.instance_id == instance_id))
        assert sorted(r.node_name for r in rows) == ["r1", "r2", "r3"]


def _ready_instance(
    sessions: sessionmaker[Session], principal: Principal, replica_count: int = 0
) -> tuple[str, list[str]]:
    """A ready instance with ready read replicas (rows only: no job runs here)."""
    with sessions() as session:
        instance, _ = instances.create(session, principal, "fr-par", _request(0))
        instance_id = instance.id
    replica_ids = []
    for _ in range(replica_count):
        with sessions() as session:
            session.get(Instance, instance_id).status = "ready"  # type: ignore[union-attr]
            session.commit()
            replica, _ = replicas.create(session, principal, "fr-par", instance_id, [], True)
            replica.status = "ready"
            session.commit()
            replica_ids.append(replica.id)
    with sessions() as session:
        session.get(Instance, instance_id).status = "ready"  # type: ignore[union-attr]
        session.commit()
    return instance_id, replica_ids


def _operations(sessions: sessionmaker[Session], kind: str) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(Operation).where(Operation.kind == kind)
        return int(session.scalar(query) or 0)


def test_concurrent_promotes_make_one_instance(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    _, (replica_id,) = _ready_instance(sessions, principal, replica_count=1)

    def attempt(i: int) -> None:
        with sessions() as session:
            replicas.promote(session, principal, "fr-par", replica_id)

    assert _race(6, attempt) == Counter({"ok": 1, "transient_state": 5})
    assert _instances(sessions, principal.organization_id) == 2  # the source and one promoted
    assert _operations(sessions, "promote_replica") == 1
    with sessions() as session:
        replica = session.get(ReadReplica, replica_id)
        assert replica is not None and replica.status == "promoting"


def test_concurrent_deletes_record_one_deletion(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    instance_id, (replica_id,) = _ready_instance(sessions, principal, replica_count=1)

    def delete_replica(i: int) -> None:
        with sessions() as session:
            replicas.delete(session, principal, "fr-par", replica_id)

    def delete_instance(i: int) -> None:
        with sessions() as session:
            instances.delete(session, principal, "fr-par", instance_id)

    assert _race(6, delete_replica) == Counter({"ok": 6})  # idempotent, like the real API
    assert _operations(sessions, "delete_replica") == 1
    assert _race(6, delete_instance) == Counter({"ok": 6})
    assert _operations(sessions, "delete_instance") == 1


def test_deletion_wins_over_any_status(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    for status in ("provisioning", "initializing", "configuring", "autohealing", "error"):
        with sessions() as session:
            instance, _ = instances.create(session, principal, "fr-par", _request(0))
            instance.status = status
            session.commit()
            _, op_id = instances.delete(session, principal, "fr-par", instance.id)
            assert op_id is not None and instance.status == "deleting", status


def test_concurrent_renewals_start_one_job(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    instance_id, _ = _ready_instance(sessions, principal)

    def attempt(i: int) -> None:
        with sessions() as session:
            instances.renew_certificate(session, principal, "fr-par", instance_id)

    assert _race(6, attempt) == Counter({"ok": 1, "transient_state": 5})
    assert _operations(sessions, "install_tls") == 1


def test_concurrent_updates_leave_one_of_their_states(metadata_store: str) -> None:
    from controlplane.api.schemas.instances import UpdateInstanceRequest

    sessions = migrated(metadata_store)
    principal = _tenant(sessions)
    instance_id, _ = _ready_instance(sessions, principal)
    names = {f"renamed-{i}" for i in range(6)}

    def attempt(i: int) -> None:
        request = UpdateInstanceRequest(name=f"renamed-{i}", tags=[f"t{i}"])
        with sessions() as session:
            instances.update(session, principal, "fr-par", instance_id, request)

    assert _race(6, attempt) == Counter({"ok": 6})
    with sessions() as session:
        row = session.get(Instance, instance_id)
        assert row is not None and row.name in names
        assert row.tags == [f"t{row.name.split('-')[1]}"]  # name and tags of the same request
