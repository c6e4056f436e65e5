"""The customer's admin, tried as a hostile tenant would: every known path to the engine's
superuser, the OS or the service's accounts fails, while the admin keeps what a managed admin
has. One standalone instance per supported engine version, made through the official SDK."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from cryptography.fernet import InvalidToken
from scaleway.rdb.v1 import RdbV1API
from sqlalchemy import select

from controlplane import secrets
from controlplane.db.models import Instance, Operation
from controlplane.db.session import session_factory
from controlplane.services.operations import SECRET_PARAMS
from tests.support.engine import superuser_connection
from tests.support.instances import ready_instance, wait

ADMIN, PASSWORD = "tenant_admin", "Tenant-Adm1n!pw"
APP_PASSWORD = "App-Passw0rd!x"
pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@pytest.fixture(scope="module", params=["PostgreSQL-15", "PostgreSQL-17"])
def pg_instance(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, Endpoint]]:
    yield from _instance(request.param, rdb, docker_client)


@pytest.fixture(scope="module", params=["MariaDB-10.11", "MariaDB-11.8"])
def mariadb_instance(
    request: pytest.FixtureRequest, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, Endpoint]]:
    yield from _instance(request.param, rdb, docker_client)


def _instance(
    engine: str, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[tuple[str, Endpoint]]:
    name = f"sec-{engine.lower().replace('.', '-')}"
    with ready_instance(
        rdb, docker_client, engine=engine, user=ADMIN, password=PASSWORD, name=name
    ) as instance_id:
        endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
        yield instance_id, Endpoint(endpoint.ip, endpoint.port)


def _service_still_works(rdb: RdbV1API, instance_id: str) -> None:
    """The control plane is not locked out: a renewal reaches every node as the superuser."""
    rdb.renew_instance_certificate(instance_id=instance_id)
    instance = rdb.wait_for_instance(instance_id=instance_id, options=wait())
    assert instance.status == "ready", instance


# --- PostgreSQL -----------------------------------------------------------------------------

PG_ESCALATIONS = [
    # predefined roles that reach the server's programs, files or network
    "GRANT pg_execute_server_program TO {admin}",
    "GRANT pg_read_server_files TO CURRENT_USER",
    "GRANT pg_write_server_files TO {admin} WITH ADMIN OPTION",
    "CREATE ROLE sneaky IN ROLE pg_execute_server_program",
    "ALTER GROUP pg_read_server_files ADD USER {admin}",
    # the service's own accounts
    "ALTER ROLE _rdb_superadmin PASSWORD 'Hijack3d!pw'",
    "ALTER ROLE _rdb_replicator PASSWORD 'Hijack3d!pw'",
    "ALTER ROLE _rdb_replicator NOLOGIN",
    "ALTER ROLE _rdb_replicator SET statement_timeout = 1",
    "ALTER ROLE _rdb_replicator RENAME TO mine",
    "DROP ROLE _rdb_replicator",
    "CREATE ROLE _rdb_shadow LOGIN PASSWORD 'Shad0w!pw'",
    "GRANT {admin} TO _rdb_replicator",
    "GRANT _rdb_replicator TO {admin}",
    "REVOKE pg_monitor FROM _rdb_replicator",
    "REASSIGN OWNED BY _rdb_superadmin TO {admin}",
    "DROP OWNED BY _rdb_replicator",
    # becoming someone else
    "SET ROLE _rdb_superadmin",
    "SET SESSION AUTHORIZATION _rdb_superadmin",
    "ALTER ROLE {admin} SUPERUSER",
    "ALTER ROLE {admin} REPLICATION",
    "ALTER ROLE {admin} BYPASSRLS",
    "CREATE ROLE su SUPERUSER",
    # the OS and the server
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "COPY (SELECT 1) TO '/tmp/out'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "LOAD 'dbaas_guard'",
    "ALTER SYSTEM SET log_statement = 'none'",
    "CREATE EXTENSION file_fdw",
    "SELECT pg_reload_conf()",
    "SELECT pg_promote()",
]


def _pg(endpoint: Endpoint, user: str = ADMIN, password: str = PASSWORD, db: str = "rdb") -> Any:
    return psycopg.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=user,
        password=password,
        dbname=db,
        autocommit=True,
        connect_timeout=10,
    )


@pytest.mark.parametrize("statement", PG_ESCALATIONS)
def test_postgresql_admin_cannot_escalate(
    pg_instance: tuple[str, Endpoint], statement: str
) -> None:
    _, endpoint = pg_instance
    with closing(_pg(endpoint)) as conn, pytest.raises(psycopg.errors.Error) as refused:
        conn.execute(statement.format(admin=ADMIN))
    assert isinstance(
        refused.value,
        psycopg.errors.InsufficientPrivilege | psycopg.errors.FeatureNotSupported,
    ) or "permission denied" in str(refused.value), refused.value


def test_postgresql_admin_cannot_signal_the_service(pg_instance: tuple[str, Endpoint]) -> None:
    instance_id, endpoint = pg_instance
    with closing(superuser_connection(instance_id)) as service, closing(_pg(endpoint)) as conn:
        pid = service.execute("SELECT pg_backend_pid()").fetchone()[0]
        for function in ("pg_terminate_backend", "pg_cancel_backend"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT {function}(%s)", [pid])
        assert service.execute("SELECT 1").fetchone() == (1,)


def test_postgresql_socket_needs_a_password(
    pg_instance: tuple[str, Endpoint], docker_client: docker.DockerClient
) -> None:
    """An OS user of the node gets no superuser session for free (no ``trust``)."""
    instance_id, _ = pg_instance
    container = docker_client.containers.get(_node(instance_id))
    code, output = container.exec_run(
        ["psql", "-h", "/var/run/postgresql", "-U", "_rdb_superadmin", "-w", "-c", "SELECT 1"],
        user="postgres",
    )
    assert code != 0 and b"password" in output, output


def test_postgresql_admin_keeps_managed_powers(
    rdb: RdbV1API, pg_instance: tuple[str, Endpoint]
) -> None:
    instance_id, endpoint = pg_instance
    with closing(_pg(endpoint)) as conn:
        assert conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
            [ADMIN],
        ).fetchone() == (False, True, True)
        conn.execute(f"CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'")
        conn.execute("CREATE DATABASE shop")
        conn.execute("GRANT CONNECT ON DATABASE shop TO app")
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes VALUES (1, 'mine')")
        conn.execute("GRANT SELECT ON notes TO app")
        conn.execute("GRANT pg_read_all_data TO app") if _pg_major(conn) < 16 else None
        assert conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0] >= 1
    with closing(_pg(endpoint, "app", APP_PASSWORD)) as app:
        assert app.execute("SELECT body FROM notes").fetchone() == ("mine",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("INSERT INTO notes VALUES (2, 'not allowed')")
    with closing(_pg(endpoint, db="shop")) as conn:
        conn.execute("CREATE TABLE t (i int)")
    with closing(_pg(endpoint)) as conn:
        conn.execute("DROP DATABASE shop")
        conn.execute("DROP TABLE notes")
        conn.execute("DROP ROLE app")
    _service_still_works(rdb, instance_id)


def _pg_major(conn: Any) -> int:
    return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


# --- MariaDB --------------------------------------------------------------------------------

MARIADB_ESCALATIONS = [
    # the service's accounts
    "ALTER USER '_rdb_superadmin'@'%' IDENTIFIED BY 'Hijack3d!pw'",
    "SET PASSWORD FOR '_rdb_superadmin'@'%' = PASSWORD('Hijack3d!pw')",
    "GRANT SELECT ON rdb.* TO '_rdb_superadmin'@'%' IDENTIFIED BY 'Hijack3d!pw'",
    "DROP USER '_rdb_replicator'@'%'",
    "RENAME USER '_rdb_replicator'@'%' TO 'mine'@'%'",
    "CREATE USER 'sneaky'@'%' IDENTIFIED BY 'Sneaky!pw1'",
    "GRANT SELECT ON rdb.* TO 'sneaky'@'%' IDENTIFIED BY 'Sneaky!pw1'",
    "CREATE ROLE sneaky_role",
    "CALL _rdb.set_password('_rdb_superadmin', 'Hijack3d!pw')",
    "CALL _rdb.set_password('_RDB_SUPERADMIN', 'Hijack3d!pw')",
    "CALL _rdb.drop_user('_rdb_replicator')",
    "CALL _rdb.create_user('_rdb_shadow', 'Shad0w!pw1')",
    "CALL _rdb.create_user('root', 'Sneaky!pw1')",
    "CALL _rdb.create_user('x'' IDENTIFIED BY ''y''; --', 'Sneaky!pw1')",
    "CALL _rdb.create_database('mysql')",
    "CALL _rdb.create_database('_rdb')",
    "CALL _rdb.drop_user('{admin}')",
    # reading what is not theirs
    "SELECT authentication_string FROM mysql.user",
    "SELECT * FROM mysql.global_priv",
    "GRANT SELECT ON mysql.* TO '{admin}'@'%'",
    "GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'%'",
    "SHOW BINLOG EVENTS",
    "CREATE DATABASE other",
    # definer and privilege tricks
    "CREATE DEFINER='_rdb_superadmin'@'%' PROCEDURE rdb.p() SELECT 1",
    "CREATE DEFINER='_rdb_superadmin'@'%' VIEW rdb.v AS SELECT 1",
    "CREATE DEFINER='_rdb_superadmin'@'%' PROCEDURE _rdb.p() SELECT 1",
    "DROP PROCEDURE _rdb.create_user",
    # files, plugins, the server
    "SELECT 1 INTO OUTFILE '/tmp/out'",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE rdb.t",
    "INSTALL SONAME 'ha_connect'",
    "CREATE FUNCTION sys_exec RETURNS INTEGER SONAME 'lib_mysqludf_sys.so'",
    "SET GLOBAL read_only = ON",
    "SET GLOBAL rpl_semi_sync_master_enabled = OFF",
    "SET SESSION sql_log_bin = 0",
    "SET SESSION gtid_seq_no = 1000",
    "SET SESSION server_id = 7",
    "BINLOG 'AAAA'",
    "CHANGE MASTER TO MASTER_HOST = 'elsewhere'",
    "STOP SLAVE",
    "RESET MASTER",
    "PURGE BINARY LOGS BEFORE NOW()",
    "FLUSH PRIVILEGES",
    "SHUTDOWN",
]


def _mysql(endpoint: Endpoint, user: str = ADMIN, password: str = PASSWORD) -> Any:
    return pymysql.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=user,
        password=password,
        database="rdb" if user == ADMIN else None,
        autocommit=True,
        connect_timeout=10,
    )


def _run(conn: Any, statement: str) -> list[Any]:
    with closing(conn.cursor()) as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


@pytest.mark.parametrize("statement", MARIADB_ESCALATIONS)
def test_mariadb_admin_cannot_escalate(
    mariadb_instance: tuple[str, Endpoint], statement: str
) -> None:
    _, endpoint = mariadb_instance
    with closing(_mysql(endpoint)) as conn:
        _run(conn, "CREATE TABLE IF NOT EXISTS t (line TEXT)")
        with pytest.raises(pymysql.err.MySQLError) as refused:
            _run(conn, statement.format(admin=ADMIN))
    # access denied (1044, 1045, 1142, 1227, 1410), or the routine's own refusal (1644)
    code = refused.value.args[0]
    assert code in (1044, 1045, 1142, 1227, 1370, 1410, 1644), refused.value


def test_mariadb_admin_keeps_managed_powers(
    rdb: RdbV1API, mariadb_instance: tuple[str, Endpoint]
) -> None:
    instance_id, endpoint = mariadb_instance
    with closing(_mysql(endpoint)) as conn:
        _run(conn, f"CALL _rdb.create_user('app', '{APP_PASSWORD}')")
        _run(conn, "CALL _rdb.create_database('shop_db')")
        _run(conn, "CREATE TABLE shop_db.notes (id INT PRIMARY KEY, body TEXT)")
        _run(conn, "INSERT INTO shop_db.notes VALUES (1, 'mine')")
        _run(conn, "GRANT SELECT ON `shop\\_db`.* TO 'app'@'%'")  # _ is a wildcard in GRANT
        databases = {row[0] for row in _run(conn, "SHOW DATABASES")}
        assert {"rdb", "shop_db"} <= databases
    with closing(_mysql(endpoint, "app", APP_PASSWORD)) as app:
        assert _run(app, "SELECT body FROM shop_db.notes") == [("mine",)]
        with pytest.raises(pymysql.err.MySQLError):
            _run(app, "INSERT INTO shop_db.notes VALUES (2, 'not allowed')")
        with pytest.raises(pymysql.err.MySQLError):
            _run(app, "CALL _rdb.create_user('other', 'Other-Passw0rd!')")  # not an admin
    with closing(_mysql(endpoint)) as conn:
        _run(conn, "CALL _rdb.set_password('app', 'N3w-Passw0rd!x')")
    with closing(_mysql(endpoint, "app", "N3w-Passw0rd!x")) as app:
        assert _run(app, "SELECT CURRENT_USER()") == [("app@%",)]
    with closing(_mysql(endpoint)) as conn:
        _run(conn, "CALL _rdb.drop_user('app')")
        _run(conn, "DROP DATABASE shop_db")
    with pytest.raises(pymysql.err.OperationalError):
        _mysql(endpoint, "app", "N3w-Passw0rd!x")
    _service_still_works(rdb, instance_id)


# --- helpers --------------------------------------------------------------------------------


def _node(instance_id: str) -> str:
    from tests.support.ha import primary_container

    return primary_container(instance_id)


# --- containers and networks ----------------------------------------------------------------


@pytest.fixture(scope="module")
def with_replica(rdb: RdbV1API, docker_client: docker.DockerClient) -> Iterator[str]:
    """An instance with a read replica: a main node, a replica, and two proxies."""
    with ready_instance(
        rdb,
        docker_client,
        engine="PostgreSQL-15",
        user=ADMIN,
        password=PASSWORD,
        name="sec-hardening",
    ) as instance_id:
        replica = rdb.create_read_replica(instance_id=instance_id)
        rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
        yield instance_id


def _containers(docker_client: docker.DockerClient, instance_id: str) -> list[Any]:
    label = {"label": [f"dbaas.instance={instance_id}"]}
    return list(docker_client.containers.list(filters=label))


def test_every_container_is_hardened(with_replica: str, docker_client: docker.DockerClient) -> None:
    containers = _containers(docker_client, with_replica)
    roles = sorted(c.labels.get("dbaas.role", "node") for c in containers)
    assert roles == ["direct_access", "load_balancer", "node", "node"], roles
    for container in containers:
        host = container.attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], container.name
        assert "no-new-privileges:true" in host["SecurityOpt"], container.name
        assert 0 < host["PidsLimit"] <= 12288, container.name
        assert host["Privileged"] is False and host["Memory"] > 0, container.name
        user = container.attrs["Config"]["User"]
        assert user in ("postgres", "haproxy"), (container.name, user)
        for process in container.top(ps_args="-o pid,user")["Processes"]:
            assert process[1] != "root", (container.name, process)
        if container.labels.get("dbaas.role") is None:  # nodes publish nothing
            assert not host["PortBindings"], container.name


def test_nodes_are_on_an_internal_network_only(
    with_replica: str, docker_client: docker.DockerClient
) -> None:
    for container in _containers(docker_client, with_replica):
        networks = container.attrs["NetworkSettings"]["Networks"]
        internal = {name for name in networks if docker_client.networks.get(name).attrs["Internal"]}
        if container.labels.get("dbaas.role") is None:
            assert set(networks) == internal and len(internal) == 1, container.name
        else:  # a proxy: the instance network and the edge network it publishes on
            assert len(networks) == 2 and len(internal) == 1, container.name


def test_the_proxy_runtime_api_is_a_host_only_socket(
    with_replica: str, docker_client: docker.DockerClient
) -> None:
    from workers import proxies

    lb = next(
        c
        for c in _containers(docker_client, with_replica)
        if c.labels.get("dbaas.role") == "load_balancer"
    )
    assert "Name: HAProxy" in proxies._admin_request(lb.name, "show info\n")
    _, listening = lb.exec_run(["cat", "/proc/net/tcp"])
    ports = {  # listening sockets (state 0A), but Docker's DNS resolver's (127.0.0.11)
        int(fields[1].split(":")[1], 16)
        for fields in (line.split() for line in listening.decode().splitlines()[1:])
        if fields[3] == "0A" and not fields[1].startswith("0B00007F:")
    }
    assert ports == {5432}, ports  # the engine port only: no TCP runtime API (formerly 9999)


def test_nodes_cannot_reach_the_host_or_the_outside(
    with_replica: str, docker_client: docker.DockerClient
) -> None:
    """A listener on every host address: a proxy (edge network) reaches it, which shows the
    probe works; the nodes reach neither it nor anything beyond their own subnet."""
    import socket
    import threading

    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]

    def accept_until_closed() -> None:
        with suppress(OSError):  # the test closes the listener at its end
            for _ in range(4):
                listener.accept()

    threading.Thread(target=accept_until_closed, daemon=True).start()
    try:
        containers = _containers(docker_client, with_replica)
        gateways = {
            name: docker_client.networks.get(name).attrs["IPAM"]["Config"][0]["Gateway"]
            for c in containers
            for name in c.attrs["NetworkSettings"]["Networks"]
        }
        edge = next(n for n in gateways if n.endswith("-edge"))
        instance_net = next(n for n in gateways if not n.endswith("-edge"))

        def reaches(container: Any, address: str) -> bool:
            probe = f"timeout 3 bash -c 'echo > /dev/tcp/{address}/{port}'"
            return container.exec_run(["bash", "-c", probe])[0] == 0

        proxy = next(c for c in containers if c.labels.get("dbaas.role") == "load_balancer")
        assert reaches(proxy, gateways[edge])  # the probe can succeed
        for node in (c for c in containers if c.labels.get("dbaas.role") is None):
            assert not reaches(node, gateways[instance_net]), node.name  # the host
            assert not reaches(node, gateways[edge]), node.name  # another network
    finally:
        listener.close()


# --- secrets at rest ------------------------------------------------------------------------


def test_no_password_or_verifier_is_kept(mariadb_instance: tuple[str, Endpoint]) -> None:
    """After provisioning: no operation keeps the admin's verifier, and neither the metadata
    store nor any log holds a customer password in clear."""
    instance_id, _ = mariadb_instance
    with session_factory()() as session:
        ops = session.scalars(select(Operation).where(Operation.resource_id == instance_id))
        assert all(not (SECRET_PARAMS & op.params.keys()) for op in ops)
    state = Path(os.environ["DBAAS_STATE_DIR"])
    files = [*state.glob("dbaas.sqlite3*"), *state.glob("log/*.log")]
    assert any(f.name == "dbaas.sqlite3" for f in files)
    for path in files:
        content = path.read_bytes()
        for secret in (PASSWORD, APP_PASSWORD):
            assert secret.encode() not in content, path


def test_rotating_the_key_keeps_the_service_working(
    rdb: RdbV1API, mariadb_instance: tuple[str, Endpoint]
) -> None:
    instance_id, _ = mariadb_instance
    key_file = Path(os.environ["DBAAS_ENCRYPTION_KEY_FILE"])
    (old_key,) = key_file.read_text().split()
    before = _superuser_secret(instance_id)
    subprocess.run(
        [str(Path(sys.executable).parent / "dbaas"), "rotate-key", "--grace-seconds", "1"],
        check=True,
        capture_output=True,
    )
    (new_key,) = key_file.read_text().split()
    assert new_key != old_key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    after = _superuser_secret(instance_id)
    assert after != before
    assert secrets.decrypt(after) == secrets._cipher((old_key,)).decrypt(before.encode()).decode()
    with pytest.raises(InvalidToken):  # the old key alone opens nothing any more
        secrets._cipher((old_key,)).decrypt(after.encode())
    _service_still_works(rdb, instance_id)  # the worker decrypts with the new key


def _superuser_secret(instance_id: str) -> str:
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return row.superuser_secret
