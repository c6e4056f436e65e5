"""The engine images from deploy/images/build.sh serve real clients.

Needs a Docker engine and the images; a missing engine or image FAILS the tests, it never skips.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import docker
import psycopg
import pymysql
import pytest

from tests.e2e import helpers
from tests.e2e.helpers import Lab

pytestmark = pytest.mark.docker

PG = {"dbaas/postgresql:15": "15", "dbaas/postgresql:17": "17"}
MARIADB = {"dbaas/mariadb:10.11": "10.11", "dbaas/mariadb:11.8": "11.8"}
HAPROXY = {"dbaas/haproxy:2.6": "2.6"}
ENGINE_UID = 999
ENGINE_USERS = {  # engine -> (user, home, socket dir)
    "postgresql": ("postgres", "/var/lib/postgresql", "/run/postgresql"),
    "mariadb": ("mysql", "/var/lib/mysql", "/run/mysqld"),
}


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    cli = helpers.docker_client()
    yield cli
    helpers.remove_run_leftovers(cli)
    cli.close()


@pytest.fixture
def lab(client: docker.DockerClient) -> Iterator[Lab]:
    lab = Lab(client)
    yield lab
    lab.cleanup()


def start_postgres(lab: Lab, image: str, password: str, **kwargs: object):
    """initdb with a scram password for 'postgres' (file put in before start), then postgres."""
    script = (  # a restart (restart policy) finds the cluster made and starts it
        'if [ ! -s "$PGDATA/PG_VERSION" ]; then\n'
        '  initdb -D "$PGDATA" --username=postgres --pwfile=/tmp/pwfile --auth-local=trust '
        "--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null\n"
        "  rm /tmp/pwfile\n"
        '  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"\n'
        "fi\n"
        "exec postgres -c listen_addresses='*'\n"
    )
    pwfile = {"pwfile": (password.encode(), 0o600, ENGINE_UID, ENGINE_UID)}
    return lab.start(
        image, ["bash", "-ec", script], "pg", files={"/tmp": pwfile}, stop_signal="SIGINT", **kwargs
    )


def pg_connect(port: int, password: str, host: str = "127.0.0.1") -> psycopg.Connection:
    return psycopg.connect(
        host=host,
        port=port,
        user="postgres",
        password=password,
        dbname="postgres",
        connect_timeout=3,
        autocommit=True,
    )


@pytest.mark.parametrize("image", [*PG, *MARIADB, *HAPROXY])
def test_image_metadata(client: docker.DockerClient, image: str) -> None:
    helpers.require_image(client, image)
    cfg = client.images.get(image).attrs["Config"]
    labels = cfg["Labels"]
    engine = image.split("/")[1].split(":")[0]
    assert labels["dbaas.engine"] == engine
    assert labels["dbaas.engine_version"] == image.split(":")[1]
    assert len(labels["dbaas.recipe_hash"]) == 64
    checks = "dpkg -s ca-certificates tzdata >/dev/null; ! dpkg -s locales-all >/dev/null 2>&1"
    if engine == "haproxy":
        assert cfg["User"] == "haproxy"  # unprivileged: no capability needed for its ports
        assert cfg["Cmd"][:3] == ["haproxy", "-W", "-db"]
        checks += "; test -d /usr/local/etc/haproxy; test $(id -u) = 998"
        checks += '; test "$(stat -c %u:%a /run/haproxy-admin)" = 998:700'
    elif engine == "postgresql":
        checks += f"; test -f /usr/lib/postgresql/{image.split(':')[1]}/lib/dbaas_guard.so"
        checks += "; ! command -v gcc >/dev/null"  # the compiler of the guard is gone
    if engine != "haproxy":
        user, home, run_dir = ENGINE_USERS[engine]
        assert cfg["User"] == user
        checks += (
            f"; dpkg -s locales >/dev/null; test $(id -u) = {ENGINE_UID}"
            f"; test $(id -g) = {ENGINE_UID}"
            f"; for d in {home} {run_dir} /var/lib/dbaas; do"
            f'   test "$(stat -c %u:%g "$d")" = {ENGINE_UID}:{ENGINE_UID}; done'
            f"; test -z \"$(ls -A {home} | grep -v '^[0-9]*$')\""  # no pre-made datadir
        )
    out = client.containers.run(
        image, ["bash", "-ec", checks + "; echo ok"], remove=True, labels=helpers.LABELS
    )
    assert out.strip() == b"ok"


@pytest.mark.parametrize("image", PG)
def test_postgresql_serves_password_clients(
    client: docker.DockerClient, lab: Lab, image: str
) -> None:
    helpers.require_image(client, image)
    password, port = secrets.token_urlsafe(16), helpers.free_port()
    c = start_postgres(lab, image, password, ports={"5432/tcp": ("127.0.0.1", port)})

    conn = helpers.wait_until(
        lambda: pg_connect(port, password), f"{image} on :{port}", container=c
    )
    with conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        assert version.startswith(f"PostgreSQL {PG[image]}."), version
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith(PG[image])
        method = conn.execute(
            "SELECT auth_method FROM pg_hba_file_rules WHERE address = '0.0.0.0'"
        ).fetchone()
        assert method == ("scram-sha-256",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_connect(port, "wrong-" + password)


@pytest.mark.parametrize("image", MARIADB)
def test_mariadb_serves_password_clients(client: docker.DockerClient, lab: Lab, image: str) -> None:
    helpers.require_image(client, image)
    password, port = secrets.token_urlsafe(16), helpers.free_port()
    script = (
        "mariadb-install-db --user=mysql --skip-test-db --auth-root-authentication-method=socket "
        "--datadir=/var/lib/mysql >/dev/null\n"
        "exec mariadbd --datadir=/var/lib/mysql --bind-address=0.0.0.0 --skip-name-resolve\n"
    )
    c = lab.start(image, ["bash", "-ec", script], "mdb", ports={"3306/tcp": ("127.0.0.1", port)})

    def ping() -> None:
        rc, out = c.exec_run(["mariadb-admin", "ping", "--silent"], user="mysql")
        assert rc == 0, out

    helpers.wait_until(ping, f"{image} socket", container=c)
    # through the unix socket as mysql@localhost (unix_socket auth, made by --user=mysql)
    sql = f"CREATE USER 'app'@'%' IDENTIFIED BY '{password}'; GRANT ALL ON *.* TO 'app'@'%';"
    rc, out = c.exec_run(["mariadb", "-e", sql], user="mysql")
    assert rc == 0, out

    def connect(pw: str) -> pymysql.connections.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=port, user="app", password=pw, connect_timeout=3
        )

    conn = helpers.wait_until(lambda: connect(password), f"{image} on :{port}", container=c)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), CURRENT_USER()")
        version, user = cur.fetchone()
    assert version.startswith(f"{MARIADB[image]}."), version
    assert user == "app@%"
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        connect("wrong-" + password)


@pytest.mark.parametrize("image", HAPROXY)
def test_haproxy_forwards_tcp_to_postgresql(
    client: docker.DockerClient, lab: Lab, image: str
) -> None:
    pg_image = "dbaas/postgresql:15"
    helpers.require_image(client, image)
    helpers.require_image(client, pg_image)
    net = lab.network("net")
    password, port = secrets.token_urlsafe(16), helpers.free_port()
    pg = start_postgres(lab, pg_image, password, network=net.name)  # not published on the host

    cfg = (
        "global\n  log stdout format raw local0\n"
        "defaults\n  mode tcp\n  log global\n  timeout connect 5s\n"
        "  timeout client 1m\n  timeout server 1m\n"
        "frontend pg\n  bind :5432\n  default_backend pg\n"
        f"backend pg\n  server n1 {pg.name}:5432 check inter 1s\n"
    )
    hap = lab.start(
        image,
        None,
        "haproxy",
        network=net.name,
        ports={"5432/tcp": ("127.0.0.1", port)},
        files={"/usr/local/etc/haproxy": {"haproxy.cfg": (cfg.encode(), 0o644, 0, 0)}},
    )

    conn = helpers.wait_until(
        lambda: pg_connect(port, password), f"haproxy :{port} -> {pg.name}", container=hap
    )
    for c in (pg, hap):
        c.reload()
    pg_ip = pg.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    hap_ip = hap.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    with conn:
        server, peer, version = conn.execute(
            "SELECT host(inet_server_addr()), host(inet_client_addr()), version()"
        ).fetchone()
    assert version.startswith("PostgreSQL 15."), version
    assert (server, peer) == (pg_ip, hap_ip)  # the connection really went through haproxy
