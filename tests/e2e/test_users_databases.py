"""Databases, users and privileges through the official SDK, checked on the engine itself: the
database exists, a user logs in with its password, each permission allows what it says and no
more, an admin made through the API is as contained as the initial one, the service's own
accounts stay out of reach. One standalone instance per engine family, shared by the module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import Permission, RdbV1API
from sqlalchemy import select

from controlplane.db.models import Operation
from controlplane.db.session import session_factory
from controlplane.services.operations import SECRET_PARAMS
from tests.support.instances import ready_instance

ADMIN, PASSWORD = "owner_admin", "Owner-Adm1n!pw"
PASSWORDS = {
    "boss": "Boss-Passw0rd!x",
    "reader": "Reader-Passw0rd!x",
    "writer": "Writer-Passw0rd!x",
    "nobody": "Nobody-Passw0rd!x",
    "chief": "Chief-Passw0rd!x",
}
NEW_WRITER_PASSWORD = "Writer-N3w-pass!"
HIJACK = "Hijack3d!pw"
APP_DB = "app-db"  # a hyphen, as Terraform's examples use
pytestmark = pytest.mark.docker


@dataclass
class Engine:
    """One engine family's way of connecting and the SQL the checks need."""

    family: str
    instance_id: str
    host: str
    port: int
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))

    @property
    def pg(self) -> bool:
        return self.family == "postgresql"

    def connect(self, user: str, password: str, database: str | None = None) -> Any:
        if self.pg:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=password,
                dbname=database or "rdb",
                autocommit=True,
                connect_timeout=10,
            )
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=user,
            password=password,
            database=database,
            autocommit=True,
            connect_timeout=10,
        )

    def run(self, conn: Any, statement: str) -> list[Any]:
        if self.pg:
            cursor = conn.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []
        with closing(conn.cursor()) as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())

    def as_user(self, user: str, statement: str, database: str = APP_DB) -> list[Any]:
        with closing(self.connect(user, self.passwords[user], database)) as conn:
            return self.run(conn, statement)

    def table(self, name: str) -> str:
        return name if self.pg else f"`{APP_DB}`.{name}"

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return (psycopg.Error,) if self.pg else (pymysql.MySQLError,)


@pytest.fixture(scope="module", params=["PostgreSQL-15", "MariaDB-10.11"])
def engine(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[Engine]:
    family = "postgresql" if request.param.startswith("PostgreSQL") else "mysql"
    with ready_instance(
        rdb,
        docker_client,
        engine=request.param,
        user=ADMIN,
        password=PASSWORD,
        name=f"objects-{family}",
    ) as instance_id:
        endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
        yield Engine(family, instance_id, endpoint.ip, endpoint.port)


def _refused(call: Callable[[], Any], status: int) -> dict[str, Any]:
    with pytest.raises(ScalewayException) as refused:
        call()
    assert refused.value.status_code == status, refused.value.response.text
    body: dict[str, Any] = refused.value.response.json()
    return body


def _privilege(rdb: RdbV1API, engine: Engine, user: str, database: str = APP_DB) -> str:
    found = rdb.list_privileges(
        instance_id=engine.instance_id, database_name=database, user_name=user
    )
    assert found.total_count == 1, found
    return str(found.privileges[0].permission)


# --- what a new instance has ----------------------------------------------------------------


def test_a_new_instance_has_rdb_and_its_admin_only(rdb: RdbV1API, engine: Engine) -> None:
    databases = rdb.list_databases(instance_id=engine.instance_id)
    assert [(d.name, d.owner, d.managed) for d in databases.databases] == [
        ("rdb", "_rdb_superadmin", True)
    ]
    assert databases.total_count == 1
    users = rdb.list_users(instance_id=engine.instance_id)
    assert [(u.name, u.is_admin) for u in users.users] == [(ADMIN, True)]  # no _rdb*, pg_*, root
    assert _privilege(rdb, engine, ADMIN, "rdb") == "all"
    with closing(engine.connect(ADMIN, PASSWORD, "rdb")) as conn:  # MariaDB counts table pages
        engine.run(conn, "CREATE TABLE sized (id INT PRIMARY KEY)")
        engine.run(conn, "INSERT INTO sized VALUES (1)")
    sized = rdb.list_databases(instance_id=engine.instance_id, name="rdb")
    assert sized.databases[0].size > 0
    unsized = rdb.list_databases(instance_id=engine.instance_id, skip_size_retrieval=True)
    assert unsized.databases[0].size == 0


# --- databases ------------------------------------------------------------------------------


def test_databases_are_created_listed_and_deleted_on_the_engine(
    rdb: RdbV1API, engine: Engine
) -> None:
    iid = engine.instance_id
    created = rdb.create_database(instance_id=iid, name="scratch")
    assert (created.name, created.owner, created.managed, created.size) == ("scratch", "", True, 0)
    listed = rdb.list_databases(instance_id=iid, name="scratch")
    assert listed.total_count == 1 and listed.databases[0].managed
    assert _engine_databases(engine) >= {"rdb", "scratch"}

    body = _refused(lambda: rdb.create_database(instance_id=iid, name="scratch"), 400)
    assert body["type"] == "invalid_arguments"
    body = _refused(lambda: rdb.create_database(instance_id=iid, name="_rdb"), 400)
    assert body["details"][0]["argument_name"] == "name"
    body = _refused(lambda: rdb.delete_database(instance_id=iid, name="rdb"), 412)
    assert body["type"] == "precondition_failed"

    assert rdb.delete_database(instance_id=iid, name="scratch") is None  # 204
    assert "scratch" not in _engine_databases(engine)
    body = _refused(lambda: rdb.delete_database(instance_id=iid, name="scratch"), 404)
    assert (body["resource"], body["resource_id"]) == ("database", "scratch")
    body = _refused(lambda: rdb.delete_database(instance_id=iid, name="postgres"), 404)


def test_a_database_made_with_sql_is_listed_unmanaged_and_in_use_is_kept(
    rdb: RdbV1API, engine: Engine
) -> None:
    iid = engine.instance_id
    with closing(engine.connect(ADMIN, PASSWORD, "rdb")) as conn:
        make = "CREATE DATABASE mine" if engine.pg else "CALL _rdb.create_database('mine')"
        engine.run(conn, make)
    unmanaged = rdb.list_databases(instance_id=iid, managed=False)
    assert [d.name for d in unmanaged.databases] == ["mine"]
    assert unmanaged.databases[0].owner == (ADMIN if engine.pg else "")
    with closing(engine.connect(ADMIN, PASSWORD, "mine")):
        body = _refused(lambda: rdb.delete_database(instance_id=iid, name="mine"), 412)
        assert body["precondition"] == "resource_still_in_use"
    rdb.delete_database(instance_id=iid, name="mine")
    assert "mine" not in _engine_databases(engine)


def _engine_databases(engine: Engine) -> set[str]:
    with closing(engine.connect(ADMIN, PASSWORD, "rdb")) as conn:
        query = "SELECT datname FROM pg_database" if engine.pg else "SHOW DATABASES"
        return {row[0] for row in engine.run(conn, query)}


# --- users and privileges -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(rdb: RdbV1API, engine: Engine) -> Iterator[Engine]:
    """``app-db`` with four users: boss (all) made a table before the others got theirs."""
    iid = engine.instance_id
    rdb.create_database(instance_id=iid, name=APP_DB)
    for user in ("boss", "reader", "writer", "nobody"):
        made = rdb.create_user(
            instance_id=iid, name=user, password=engine.passwords[user], is_admin=False
        )
        assert (made.name, made.is_admin) == (user, False)
    rdb.set_privilege(instance_id=iid, database_name=APP_DB, user_name="boss", permission="all")
    engine.as_user("boss", f"CREATE TABLE {engine.table('t')} (id INT PRIMARY KEY)")
    engine.as_user("boss", f"INSERT INTO {engine.table('t')} VALUES (1)")
    for user, permission in (("reader", "readonly"), ("writer", "readwrite"), ("nobody", "none")):
        set_ = rdb.set_privilege(
            instance_id=iid, database_name=APP_DB, user_name=user, permission=Permission(permission)
        )
        assert (set_.permission, set_.database_name, set_.user_name) == (permission, APP_DB, user)
    # made after the grants: default privileges reach it
    engine.as_user("boss", f"CREATE TABLE {engine.table('later')} (id INT PRIMARY KEY)")
    counter = "id SERIAL PRIMARY KEY" if engine.pg else "id INT AUTO_INCREMENT PRIMARY KEY"
    engine.as_user("boss", f"CREATE TABLE {engine.table('numbered')} ({counter}, v INT)")
    yield engine


def test_each_permission_allows_what_it_says(rdb: RdbV1API, app: Engine) -> None:
    t, later = app.table("t"), app.table("later")
    assert app.as_user("reader", f"SELECT id FROM {t}") == [(1,)]
    assert app.as_user("reader", f"SELECT count(*) FROM {later}") == [(0,)]
    for statement in (f"INSERT INTO {t} VALUES (2)", f"DELETE FROM {t}"):
        with pytest.raises(app.errors):
            app.as_user("reader", statement)
    app.as_user("writer", f"INSERT INTO {t} VALUES (2)")
    app.as_user("writer", f"INSERT INTO {later} VALUES (1)")
    app.as_user("writer", f"INSERT INTO {app.table('numbered')} (v) VALUES (1)")  # a sequence
    with pytest.raises(app.errors):
        app.as_user("reader", f"INSERT INTO {app.table('numbered')} (v) VALUES (2)")
    app.as_user("writer", f"UPDATE {t} SET id = 3 WHERE id = 2")
    app.as_user("writer", f"DELETE FROM {t} WHERE id = 3")
    with pytest.raises(app.errors):
        app.as_user("writer", f"CREATE TABLE {app.table('mine')} (id INT)")
    with pytest.raises(app.errors):  # PostgreSQL: no CONNECT; MariaDB: no access to the database
        app.as_user("nobody", f"SELECT id FROM {t}")
    with pytest.raises(app.errors):  # no privilege on rdb either
        app.as_user("reader", "CREATE TABLE intruder (id INT)", database="rdb")
    assert _privilege(rdb, app, "boss") == "all"
    assert _privilege(rdb, app, "reader") == "readonly"
    assert _privilege(rdb, app, "writer") == "readwrite"
    assert _privilege(rdb, app, "nobody") == "none"
    assert _privilege(rdb, app, ADMIN) == "none"  # nothing on a database it did not get
    everyone = rdb.list_privileges(instance_id=app.instance_id, database_name=APP_DB)
    assert sorted(p.user_name for p in everyone.privileges) == sorted(
        [ADMIN, "boss", "nobody", "reader", "writer"]
    )


def test_grants_made_with_sql_show_as_custom_until_set_again(rdb: RdbV1API, app: Engine) -> None:
    iid = app.instance_id
    if app.pg:  # boss owns t: it may grant on it
        app.as_user("boss", "GRANT INSERT ON t TO reader")
    else:  # the admin, once it holds all (with grant option) on the database
        rdb.set_privilege(instance_id=iid, database_name=APP_DB, user_name=ADMIN, permission="all")
        with closing(app.connect(ADMIN, PASSWORD, APP_DB)) as conn:
            app.run(conn, f"GRANT INSERT ON {app.table('t')} TO 'reader'@'%'")
    assert _privilege(rdb, app, "reader") == "custom"
    rdb.set_privilege(
        instance_id=iid, database_name=APP_DB, user_name="reader", permission="readonly"
    )
    assert _privilege(rdb, app, "reader") == "readonly"
    with pytest.raises(app.errors):
        app.as_user("reader", f"INSERT INTO {app.table('t')} VALUES (9)")
    rdb.set_privilege(instance_id=iid, database_name=APP_DB, user_name="reader", permission="none")
    with pytest.raises(app.errors):
        app.as_user("reader", f"SELECT id FROM {app.table('t')}")
    assert _privilege(rdb, app, "reader") == "none"
    body = _refused(
        lambda: rdb.set_privilege(
            instance_id=iid, database_name=APP_DB, user_name="reader", permission="custom"
        ),
        400,
    )
    assert body["details"][0]["argument_name"] == "permission"


def test_privilege_and_user_errors_name_the_resource(rdb: RdbV1API, app: Engine) -> None:
    iid = app.instance_id
    body = _refused(
        lambda: rdb.set_privilege(instance_id=iid, database_name="nope", user_name="reader"), 404
    )
    assert (body["resource"], body["resource_id"]) == ("database", "nope")
    body = _refused(
        lambda: rdb.set_privilege(instance_id=iid, database_name=APP_DB, user_name="ghost"), 404
    )
    assert (body["resource"], body["resource_id"]) == ("user", "ghost")
    for reserved in ("_rdb_superadmin", "_rdb_replicator"):  # invisible and out of reach
        _refused(partial(rdb.update_user, instance_id=iid, name=reserved, password=HIJACK), 404)
        _refused(partial(rdb.delete_user, instance_id=iid, name=reserved), 404)
        set_ = partial(rdb.set_privilege, instance_id=iid, database_name="rdb", user_name=reserved)
        _refused(set_, 404)
        create = partial(rdb.create_user, instance_id=iid, name=reserved, is_admin=True)
        _refused(partial(create, password=HIJACK), 400)
    body = _refused(
        lambda: rdb.create_user(
            instance_id=iid, name="reader", password="Again-Passw0rd!", is_admin=False
        ),
        400,
    )
    assert "already exists" in body["details"][0]["help_message"]
    body = _refused(
        lambda: rdb.create_user(instance_id=iid, name="weak", password="password", is_admin=False),
        400,
    )
    assert body["details"][0]["argument_name"] == "password"
    _refused(
        lambda: rdb.update_user(instance_id=iid, name="ghost", password="Ghost-Passw0rd!"), 404
    )
    everyone = {u.name for u in rdb.list_users_all(instance_id=iid)}
    assert not any(n.startswith(("_rdb", "pg_")) or n in ("root", "mariadb.sys") for n in everyone)


def test_a_password_change_takes_effect(rdb: RdbV1API, app: Engine) -> None:
    updated = rdb.update_user(
        instance_id=app.instance_id, name="writer", password=NEW_WRITER_PASSWORD
    )
    assert (updated.name, updated.is_admin) == ("writer", False)
    with pytest.raises(app.errors):
        app.connect("writer", app.passwords["writer"], APP_DB)
    with closing(app.connect("writer", NEW_WRITER_PASSWORD, APP_DB)) as conn:
        app.run(conn, f"SELECT id FROM {app.table('t')}")
    app.passwords["writer"] = NEW_WRITER_PASSWORD


def test_an_admin_made_through_the_api_is_as_contained_as_the_initial_one(
    rdb: RdbV1API, app: Engine
) -> None:
    iid = app.instance_id
    chief = rdb.create_user(
        instance_id=iid, name="chief", password=app.passwords["chief"], is_admin=True
    )
    assert chief.is_admin
    assert _capabilities(app, "chief", app.passwords["chief"]) == _capabilities(
        app, ADMIN, PASSWORD
    )
    with closing(app.connect("chief", app.passwords["chief"], "rdb" if app.pg else None)) as conn:
        if app.pg:
            app.run(conn, "CREATE ROLE helper LOGIN PASSWORD 'Helper-Passw0rd!'")
            app.run(conn, "DROP ROLE helper")
        else:
            app.run(conn, "CALL _rdb.create_user('helper', 'Helper-Passw0rd!')")
            app.run(conn, "CALL _rdb.drop_user('helper')")
        for statement in ESCALATIONS[app.family]:
            with pytest.raises(app.errors):
                app.run(conn, statement)
    demoted = rdb.update_user(instance_id=iid, name="chief", is_admin=False)
    assert not demoted.is_admin
    assert _capabilities(app, "chief", app.passwords["chief"]) == _capabilities(
        app, "writer", app.passwords["writer"]
    )
    assert [u.is_admin for u in rdb.list_users(instance_id=iid, name="chief").users] == [False]
    rdb.update_user(instance_id=iid, name="chief", is_admin=True)
    assert [u.is_admin for u in rdb.list_users(instance_id=iid, name="chief").users] == [True]


ESCALATIONS = {
    "postgresql": [
        "GRANT pg_execute_server_program TO chief",
        "ALTER ROLE _rdb_superadmin PASSWORD 'Hijack3d!pw'",
        "SET ROLE _rdb_superadmin",
        "ALTER ROLE chief SUPERUSER",
        "COPY (SELECT 1) TO PROGRAM 'id'",
        "DROP ROLE _rdb_replicator",
    ],
    "mysql": [
        "ALTER USER '_rdb_superadmin'@'%' IDENTIFIED BY 'Hijack3d!pw'",
        "CREATE USER 'sneaky'@'%' IDENTIFIED BY 'Sneaky!pw1'",
        "SELECT authentication_string FROM mysql.user",
        "GRANT ALL PRIVILEGES ON *.* TO 'chief'@'%'",
        "CALL _rdb.drop_user('_rdb_replicator')",
        "SELECT 1 INTO OUTFILE '/tmp/out'",
    ],
}


def _capabilities(engine: Engine, user: str, password: str) -> Any:
    """What a role may do beyond single databases: attributes and memberships (PostgreSQL),
    global grants and routine grants (MariaDB)."""
    with closing(engine.connect(user, password, "rdb" if engine.pg else None)) as conn:
        if engine.pg:
            return engine.run(
                conn,
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
                " array(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b"
                " ON b.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)"
                " FROM pg_roles r WHERE rolname = current_user",
            )
        grants = [str(row[0]) for row in engine.run(conn, "SHOW GRANTS")]
    global_or_routines = [g for g in grants if " ON *.* " in g or " ON `_rdb`.* " in g]
    return sorted(g.split(" TO ")[0] for g in global_or_routines)


# --- deleting -------------------------------------------------------------------------------


def test_deleting_users_and_the_database(rdb: RdbV1API, app: Engine) -> None:
    iid = app.instance_id
    if app.pg:  # boss owns tables in app-db: deleting it would drop or orphan them
        body = _refused(lambda: rdb.delete_user(instance_id=iid, name="boss"), 412)
        assert "owns objects" in body["help_message"]
    rdb.delete_database(instance_id=iid, name=APP_DB)
    assert APP_DB not in _engine_databases(app)
    for user in ("boss", "reader", "writer", "nobody", "chief"):
        assert rdb.delete_user(instance_id=iid, name=user) is None  # 204
        with pytest.raises(app.errors):
            app.connect(user, app.passwords[user], "rdb" if app.pg else None)
    body = _refused(lambda: rdb.delete_user(instance_id=iid, name="boss"), 404)
    assert (body["resource"], body["resource_id"]) == ("user", "boss")
    assert [u.name for u in rdb.list_users_all(instance_id=iid)] == [ADMIN]
    rdb.create_database(instance_id=iid, name=APP_DB)  # a new one of the same name: no old grant
    rdb.create_user(
        instance_id=iid, name="reader", password=app.passwords["reader"], is_admin=False
    )
    assert _privilege(rdb, app, "reader") == "none"
    rdb.delete_user(instance_id=iid, name="reader")
    rdb.delete_database(instance_id=iid, name=APP_DB)


def test_no_password_or_verifier_is_kept(app: Engine) -> None:
    with session_factory()() as session:
        ops = list(
            session.scalars(select(Operation).where(Operation.resource_id == app.instance_id))
        )
    kinds = {op.kind for op in ops}
    assert {"create_user", "update_user", "set_privilege"} <= kinds
    assert not kinds & {"list_users", "list_databases", "list_privileges"}  # reads leave no row
    assert all(not (SECRET_PARAMS & op.params.keys()) for op in ops)
    state = Path(os.environ["DBAAS_STATE_DIR"])
    for path in [*state.glob("dbaas.sqlite3*"), *state.glob("log/*.log")]:
        content = path.read_bytes()
        for secret in [*PASSWORDS.values(), NEW_WRITER_PASSWORD]:
            assert secret.encode() not in content, path
