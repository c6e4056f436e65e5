"""Instance tallies (migration 0015): the triggers keep each organization's, region's and
project's count of instances equal to its rows through creates, deletes and moves, also when
creates race (PostgreSQL), and a list page's total reads them on SQLite and PostgreSQL alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Instance, InstanceTally
from controlplane.services import instances as service
from controlplane.services import tenancy
from tests.support.stores import counting, migrated


def _instance(org: str, project: str, region: str, name: str) -> Instance:
    return Instance(
        organization_id=org, project_id=project, region=region, name=name,
        engine="PostgreSQL-15", node_type="db-dev-s", status="ready", tags=[], settings=[],
        init_settings=[], volume_type="lssd", volume_size=5_000_000_000,
        superuser_secret="-", replication_secret="-",
    )  # fmt: skip


def _tallies(session: Session) -> dict[tuple[str, str, str], int]:
    key = (InstanceTally.organization_id, InstanceTally.region, InstanceTally.project_id)
    rows = session.execute(
        select(*key, InstanceTally.instances).where(InstanceTally.instances != 0)
    )
    return {(org, region, project): n for org, region, project, n in rows}


def _counted(session: Session) -> dict[tuple[str, str, str], int]:
    key = (Instance.organization_id, Instance.region, Instance.project_id)
    rows = session.execute(select(*key, func.count()).group_by(*key))
    return {(org, region, project): n for org, region, project, n in rows}


def _tenant(sessions: sessionmaker[Session]) -> tuple[str, str, str, tenancy.Principal]:
    with sessions.begin() as session:
        org = tenancy.create_organization(session, "tallies")
        first = tenancy.create_project(session, org.id, "first")
        second = tenancy.create_project(session, org.id, "second")
        key = tenancy.issue_api_key(session, org.id, "tests")
    with sessions() as session:
        principal = tenancy.authenticate(session, key.secret_key)
    return org.id, first.id, second.id, principal


def test_tallies_follow_the_rows(metadata_store: str) -> None:
    sessions = migrated(metadata_store)
    org, first, second, _principal = _tenant(sessions)
    with sessions.begin() as session:
        for i in range(5):
            session.add(_instance(org, first, "fr-par", f"a{i}"))
        for i in range(3):
            session.add(_instance(org, second, "fr-par" if i else "nl-ams", f"b{i}"))
    with sessions.begin() as session:  # a delete, and a move to the other project
        victim, mover = session.scalars(
            select(Instance.id).where(Instance.project_id == first).order_by(Instance.name)
        ).all()[:2]
        session.execute(delete(Instance).where(Instance.id == victim))
        session.execute(update(Instance).where(Instance.id == mover).values(project_id=second))
    with sessions() as session:
        assert (
            _tallies(session)
            == _counted(session)
            == {
                (org, "fr-par", first): 3,
                (org, "fr-par", second): 3,
                (org, "nl-ams", second): 1,
            }
        )
    with sessions() as rolled_back:  # a create rolled back leaves no trace
        rolled_back.add(_instance(org, first, "fr-par", "gone"))
        rolled_back.flush()
        rolled_back.rollback()
    with sessions() as session:
        assert _tallies(session) == _counted(session)
        assert sum(_tallies(session).values()) == 7


def test_a_page_total_reads_the_tallies(metadata_store: str) -> None:
    """Unfiltered or by project: one small read, the same total as counting the rows; any
    other filter counts the matching rows."""
    sessions = migrated(metadata_store)
    org, first, second, principal = _tenant(sessions)
    with sessions.begin() as session:
        for i in range(4):
            session.add(_instance(org, first if i % 2 else second, "fr-par", f"i{i}"))

    def total(**filters: object) -> tuple[int, list[str]]:
        arguments = {"name": None, "tags": [], "project_id": None, "organization_id": None,
                     "has_maintenances": None, **filters}  # fmt: skip
        with sessions() as session, counting(metadata_store) as statements:
            page = service.list_instances(session, principal, "fr-par", order_by="name_asc",
                                          page=1, page_size=1, **arguments)  # type: ignore[arg-type]  # fmt: skip
            return page.total_count, [s for s in statements if "count(" in s.lower()]

    everything, counts = total()
    assert everything == 4 and counts == [] and total(project_id=first) == (2, [])
    named, counts = total(name="i1")
    assert named == 1 and len(counts) == 1


def test_racing_creates_are_all_tallied(metadata_store: str) -> None:
    """Eight sessions creating in one project at once (on PostgreSQL, each waits for the
    tally row the others hold until they commit): every create is counted once."""
    sessions = migrated(metadata_store)
    org, first, _second, _principal = _tenant(sessions)

    def create(worker: int) -> None:
        for i in range(5):
            with sessions.begin() as session:
                session.add(_instance(org, first, "fr-par", f"w{worker}-{i}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(8)))
    with sessions() as session:
        assert _tallies(session) == _counted(session) == {(org, "fr-par", first): 40}
