"""Instances leave as wire dicts built straight from the rows (controlplane/api/convert.py,
services/shown.py): byte for byte what the pydantic schemas made of the same rows before, for
a write's response (ORM rows), GET one (its one precompiled statement) and list pages (plain
column rows), on SQLite and PostgreSQL, over instances of every shape: HA, read replicas,
private networks, maintenances, tags, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic_core import to_json
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session, sessionmaker

from controlplane.api import convert
from controlplane.api.schemas import endpoints as ep
from controlplane.api.schemas import instances as wire
from controlplane.api.schemas import read_replicas as rr
from controlplane.api.schemas.common import EncryptionAtRest, InstanceSetting
from controlplane.api.schemas.engines import upgradable_version_from_catalog
from controlplane.api.schemas.enums import MaintenanceStatus
from controlplane.catalog import find_engine_version, load_catalog, upgradable_versions
from controlplane.db.base import utcnow
from controlplane.db.models import Endpoint, Instance, Maintenance, ReadReplica
from controlplane.domain import backup_schedule
from controlplane.domain.errors import NotFound
from controlplane.services import images, maintenances, tenancy
from controlplane.services import instances as service
from tests.support.stores import counting, migrated

# --- the schema-built conversion these builders replaced, kept as the reference -----------------


def _ref_endpoint(row: Endpoint) -> ep.Endpoint:
    kinds: dict[str, object] = {}
    if row.kind == "load_balancer":
        kinds["load_balancer"] = ep.EndpointLoadBalancerDetails()
    elif row.kind == "direct_access":
        kinds["direct_access"] = ep.EndpointDirectAccessDetails()
    else:
        kinds["private_network"] = ep.EndpointPrivateNetworkDetails(**row.details)
    return ep.Endpoint(id=row.id, ip=row.ip, port=row.port, name=row.name, **kinds)  # type: ignore[arg-type]


def _ref_replica(row: ReadReplica) -> rr.ReadReplica:
    return rr.ReadReplica(
        id=row.id,
        endpoints=[_ref_endpoint(e) for e in row.instance.endpoints if e.read_replica_id == row.id],
        status=row.status,  # type: ignore[arg-type]
        region=row.region,
        same_zone=row.same_zone,
        instance_id=row.instance_id,
    )


def _ref_maintenance(row: Maintenance) -> wire.Maintenance:
    return wire.Maintenance(
        starts_at=row.starts_at,
        stops_at=row.stops_at,
        closed_at=row.closed_at,
        reason=row.reason,
        status=MaintenanceStatus(row.status),
        forced_at=row.forced_at,
        is_applicable=row.status == MaintenanceStatus.PENDING,
    )


def _ref_upgrades(engine: str, observed: dict[str, str]) -> list[wire.UpgradableVersion]:
    version = find_engine_version(load_catalog(), engine)
    upgrades = []
    for target in upgradable_versions(load_catalog(), version) if version else []:
        upgrade = upgradable_version_from_catalog(target)
        upgrade.minor_version = observed.get(target.image, upgrade.minor_version)
        upgrades.append(upgrade)
    return upgrades


def _reference(row: Instance) -> wire.Instance:
    session = object_session(row)
    assert session is not None
    endpoints = [_ref_endpoint(e) for e in row.endpoints if e.read_replica_id is None]
    next_run = None
    if not row.backup_schedule_disabled:
        next_run = backup_schedule.next_run(
            row.created_at,
            row.backup_schedule_frequency,
            row.backup_schedule_start_hour,
            utcnow(),
        )
    model = wire.Instance(
        id=row.id,
        name=row.name,
        organization_id=row.organization_id,
        project_id=row.project_id,
        status=row.status,  # type: ignore[arg-type]
        engine=row.engine,
        upgradable_version=_ref_upgrades(row.engine, images.current_engine_versions(session)),
        endpoint=next((e for e in endpoints if e.load_balancer is not None), None),
        tags=list(row.tags),
        settings=[InstanceSetting(**s) for s in row.settings],
        backup_schedule=wire.BackupSchedule(
            frequency=row.backup_schedule_frequency,
            retention=row.backup_schedule_retention,
            disabled=row.backup_schedule_disabled,
            next_run_at=next_run,
        ),
        is_ha_cluster=row.is_ha_cluster,
        high_availability_mode=row.high_availability_mode,  # type: ignore[arg-type]
        read_replicas=[_ref_replica(r) for r in row.read_replicas],
        node_type=row.node_type,
        volume=wire.Volume(volume_type=row.volume_type, size=row.volume_size),  # type: ignore[arg-type]
        init_settings=[InstanceSetting(**s) for s in row.init_settings],
        endpoints=endpoints,
        logs_policy=wire.LogsPolicy(
            max_age_retention=row.logs_max_age_retention,
            total_disk_retention=row.logs_total_disk_retention,
        ),
        backup_same_region=row.backup_same_region,
        maintenances=[_ref_maintenance(m) for m in maintenances.shown(row)],
        encryption=EncryptionAtRest(enabled=row.encryption_enabled),
        created_at=row.created_at,
        region=row.region,
    )
    return model


def _bytes(model: wire.Instance | wire.ListInstancesResponse) -> bytes:
    return model.model_dump_json(by_alias=True).encode()


# --- instances of every shape ---------------------------------------------------------------------


def _instances(org: str, project: str) -> list[Instance]:
    base = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    now = utcnow()
    plain = Instance(
        name="plain", engine="PostgreSQL-15", node_type="db-dev-s", status="ready",
        tags=[], settings=[], init_settings=[], volume_type="lssd", volume_size=5_000_000_000,
        created_at=base,
    )  # fmt: skip
    plain.endpoints.append(Endpoint(kind="load_balancer", ip="10.1.2.3", port=20001))
    ha = Instance(
        name="hà \"quoted\" ✓", engine="PostgreSQL-17", node_type="db-gp-xs",
        status="provisioning", is_ha_cluster=True, high_availability_mode="multiple_zone",
        tags=["a", "ünï", "with space"], volume_type="sbs_5k", volume_size=30_000_000_000,
        settings=[{"name": "max_connections", "value": "200"},
                  {"name": "work_mem", "value": "4"}],
        init_settings=[{"name": "lc_messages", "value": "C"}],
        backup_schedule_disabled=True, logs_max_age_retention=None,
        logs_total_disk_retention=2**40, backup_same_region=True, encryption_enabled=True,
        created_at=base.replace(microsecond=123456),
    )  # fmt: skip
    ha.endpoints.append(Endpoint(kind="load_balancer", ip="10.1.2.4", port=20002, name="lb"))
    ha.endpoints.append(Endpoint(
        kind="private_network", ip="172.16.0.3", port=5432,
        details={"private_network_id": "pn-1", "service_ip": "172.16.0.3/22",
                 "zone": "fr-par-1", "provisioning_mode": "ipam"},
        created_at=now + timedelta(seconds=1),
    ))  # fmt: skip
    replica = ReadReplica(region="fr-par", status="ready", same_zone=False, node_name="r1")
    other = ReadReplica(region="fr-par", status="provisioning", node_name="r2",
                        created_at=now + timedelta(seconds=1))  # fmt: skip
    ha.read_replicas += [replica, other]
    maria = Instance(
        name="maria", engine="MariaDB-10.11", node_type="db-dev-m", status="autohealing",
        tags=["x"], settings=[], init_settings=[], volume_type="bssd", volume_size=10**10,
        backup_schedule_frequency=12, backup_schedule_retention=30,
        backup_schedule_start_hour=3, created_at=base - timedelta(days=400),
    )  # fmt: skip
    maria.endpoints.append(Endpoint(
        kind="private_network", ip="192.168.1.9", port=3306,
        details={"private_network_id": "pn-2", "service_ip": "192.168.1.9/24", "zone": "fr-par-2"},
    ))  # fmt: skip
    for status, closed, created in (
        ("pending", None, 0),
        ("done", now - timedelta(days=1), 1),  # shown: closed lately
        ("canceled", now - timedelta(days=30), 2),  # not shown any more
        ("ongoing", None, 3),
    ):
        maria.maintenances.append(Maintenance(
            kind="image_update", reason=f"{status} maintenance", status=status,
            starts_at=base, stops_at=base + timedelta(hours=1), forced_at=base + timedelta(days=7),
            closed_at=closed, created_at=now + timedelta(seconds=created),
        ))  # fmt: skip
    rows = [plain, ha, maria]
    for row in rows:
        row.organization_id, row.project_id, row.region = org, project, "fr-par"
        row.superuser_secret = row.replication_secret = "-"
        row.tls_cert = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
    return rows


@pytest.fixture
def store(metadata_store: str) -> tuple[sessionmaker[Session], tenancy.Principal]:
    sessions = migrated(metadata_store)
    with sessions.begin() as session:
        org = tenancy.create_organization(session, "wire")
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "tests")
        rows = _instances(org.id, project.id)
        session.add_all(rows)
        session.flush()
        for replica in rows[1].read_replicas:  # each replica has its own endpoint
            rows[1].endpoints.append(Endpoint(
                kind="direct_access", ip="10.9.9.9", port=21000, read_replica_id=replica.id,
            ))  # fmt: skip
    with sessions() as session:
        principal = tenancy.authenticate(session, key.secret_key)
    return sessions, principal


def test_one_instance_is_the_schema_output(
    store: tuple[sessionmaker[Session], tenancy.Principal],
) -> None:
    sessions, principal = store
    with sessions() as session:
        ids = session.scalars(select(Instance.id)).all()
        assert len(ids) == 3
        for instance_id in ids:
            row = service.get(session, principal, "fr-par", instance_id)
            expected = _bytes(_reference(row))
            assert to_json(convert.instance_wire(row)) == expected
            assert convert.instance(row).model_dump_json(by_alias=True).encode() == expected
            shown = service.get_shown(session, principal, "fr-par", instance_id)
            assert to_json(convert.instances_wire(session, [shown])[0]) == expected


def test_a_write_locks_its_instance_and_loads_what_it_shows_in_one_statement(
    store: tuple[sessionmaker[Session], tenancy.Principal], metadata_store: str, memos_held: None
) -> None:
    """A write's locked read (services/instances.py get, lock=True) is one statement that also
    loads the relations its response shows: no lazy load after the commit. On PostgreSQL it
    locks the instance's row and not its endpoints' (FOR UPDATE OF, beside the outer joins)."""
    sessions, principal = store
    with sessions() as session:
        expected = _write_responses(session, principal)
    for instance_id in expected:
        with sessions() as session, counting(metadata_store) as statements:
            row = service.get(session, principal, "fr-par", instance_id, lock=True)
            assert len(statements) == 1, statements
            if metadata_store.startswith("postgresql"):
                assert statements[0].endswith("FOR UPDATE OF instances"), statements[0]
                _assert_locked(metadata_store, instance_id)
            session.commit()
            assert to_json(convert.instance_wire(row)) == expected[instance_id]
            assert len(statements) == 1, statements


def _write_responses(session: Session, principal: tenancy.Principal) -> dict[str, bytes]:
    """Each instance's id -> the bytes a write's response shows of it."""
    ids = session.scalars(select(Instance.id)).all()
    return {
        i: to_json(convert.instance_wire(service.get(session, principal, "fr-par", i))) for i in ids
    }


def _assert_locked(url: str, instance_id: str) -> None:
    """Another connection cannot lock the instance's row, and can lock its endpoints'."""
    # not the service's engine, whose statements are counted
    engine = create_engine(url, connect_args={"options": "-c lock_timeout=100ms"})
    with engine.connect() as other:
        with pytest.raises(OperationalError, match="lock"):
            other.execute(select(Instance.id).where(Instance.id == instance_id).with_for_update())
        other.rollback()
        other.execute(
            select(Endpoint.id).where(Endpoint.instance_id == instance_id).with_for_update()
        )
        other.rollback()
    engine.dispose()


def test_get_one_reads_without_a_transaction_and_only_its_own(
    store: tuple[sessionmaker[Session], tenancy.Principal],
) -> None:
    """GET's session (no transaction on PostgreSQL) gives the same bytes; another tenant's
    instance, another region's and an unknown id are not found."""
    sessions, principal = store
    with sessions() as session:
        expected = _write_responses(session, principal)
        ids = list(expected)
        stranger = tenancy.create_organization(session, "stranger")
        session.commit()
    other = tenancy.Principal("-", stranger.id, frozenset(), None)
    bind = sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")
    with sessionmaker(bind=bind)() as session:
        for instance_id in ids:
            shown = service.get_shown(session, principal, "fr-par", instance_id)
            assert to_json(convert.instances_wire(session, [shown])[0]) == expected[instance_id]
            for who, region, wanted in (
                (other, "fr-par", instance_id),
                (principal, "nl-ams", instance_id),
                (principal, "fr-par", "00000000-0000-0000-0000-000000000000"),
            ):
                with pytest.raises(NotFound):
                    service.get_shown(session, who, region, wanted)


@pytest.mark.parametrize("order_by", ["created_at_asc", "name_desc"])
def test_a_page_is_the_schema_output(
    store: tuple[sessionmaker[Session], tenancy.Principal], order_by: str
) -> None:
    sessions, principal = store
    with sessions() as session:
        page = service.list_instances(
            session, principal, "fr-par", name=None, tags=[], project_id=None,
            organization_id=None, has_maintenances=None, order_by=order_by, page=1,
            page_size=10,
        )  # fmt: skip
        assert page.total_count == 3
        built = to_json({"instances": convert.instances_wire(session, page.items),
                         "total_count": page.total_count})  # fmt: skip
    with sessions() as session:
        expected = [
            _reference(service.get(session, principal, "fr-par", shown.instance.id))
            for shown in page.items
        ]
        assert built == _bytes(wire.ListInstancesResponse(instances=expected, total_count=3))
    names = [i.name for i in expected]
    assert names == (sorted(names, reverse=True) if order_by == "name_desc" else names)
    assert len(set(names)) == 3


@pytest.mark.parametrize("order_by", sorted(service.LIST_ORDERS))
def test_pages_follow_every_order(
    store: tuple[sessionmaker[Session], tenancy.Principal], order_by: str
) -> None:
    """Pages of two, unfiltered (one precompiled statement per order) and by project, in
    the order asked, created_at then id breaking ties, on both stores."""
    sessions, principal = store
    with sessions() as session:
        rows = session.execute(select(Instance.id, Instance.name, Instance.region,
                                      Instance.status, Instance.created_at,
                                      Instance.project_id)).all()  # fmt: skip
        field = order_by.removesuffix("_asc").removesuffix("_desc")
        first = {"name": lambda r: (r.name.lower(),), "region": lambda r: (r.region,),
                 "status": lambda r: (r.status,)}.get(field, lambda r: ())  # fmt: skip
        expected = [r.id for r in sorted(rows, key=lambda r: (*first(r), r.created_at, r.id),
                                         reverse=order_by.endswith("_desc"))]  # fmt: skip
        for project_id in (None, rows[0].project_id):
            paged = []
            for number in (1, 2):
                found = service.list_instances(
                    session, principal, "fr-par", name=None, tags=[], project_id=project_id,
                    organization_id=None, has_maintenances=None, order_by=order_by,
                    page=number, page_size=2,
                )  # fmt: skip
                assert found.total_count == 3
                paged += [shown.instance.id for shown in found.items]
            assert paged == expected
