"""ACL rules through the official SDK, enforced for real at the endpoints.

One PostgreSQL instance with a read replica (its direct-access endpoint follows the instance's
rules) and a client container of ours on the edge network, next to the load balancer: the rules
decide by source address, so a rule admitting the container's address and not the host's lets
the container in and refuses the host (which Docker's userland proxy makes appear as the edge
network's gateway), and the other way round. The rules hold across a restart of the instance
(whose checks through the load balancer the rules never lock out) and of the proxy. Open
sessions from admitted addresses survive a change; sessions from addresses no longer admitted
are shut. Then a proxy made before ACL rules existed (its configuration has no allow list) is
reloaded gracefully, and a MariaDB instance is checked the same way once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any

import docker
import psycopg
import pymysql
import pytest
from scaleway.rdb.v1 import ACLRuleRequest, InstanceStatus, RdbV1API

from tests.support.instances import ready_instance, wait

USER, PASSWORD = "acl_admin", "Acl-Passw0rd!x"
pytestmark = pytest.mark.docker
PREFIX = os.environ["DBAAS_RESOURCE_PREFIX"]
EDGE = f"{PREFIX}-edge"


@dataclass(frozen=True)
class Setup:
    instance_id: str
    lb: tuple[str, int]  # published (host address, port)
    replica: tuple[str, int]  # the replica's direct access
    lb_edge_ip: str  # the load balancer's address on the edge network
    replica_edge_ip: str  # the replica's direct-access proxy's
    host_source: str  # what the proxies see for a client on the host
    client: Any  # a container of ours on the edge network (psql inside)


def _pg(address: tuple[str, int]) -> psycopg.Connection[Any]:
    host, port = address
    return psycopg.connect(
        host=host, port=port, user=USER, password=PASSWORD, dbname="rdb", connect_timeout=3
    )


def _host_admitted(address: tuple[str, int]) -> bool:
    """Whether a new session from the host gets through (and answers)."""
    try:
        with closing(_pg(address)) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def _client_admitted(setup: Setup, proxy_ip: str) -> bool:
    """Whether a new session from the client container (its own address) gets through."""
    code, output = setup.client.exec_run(
        ["psql", "-tAc", "SELECT 1"],
        environment={
            "PGHOST": proxy_ip,
            "PGPORT": "5432",
            "PGUSER": USER,
            "PGPASSWORD": PASSWORD,
            "PGDATABASE": "rdb",
            "PGCONNECT_TIMEOUT": "3",
        },
    )
    return code == 0 and output.decode().strip() == "1"


def _eventually(check: Callable[[], bool], timeout: float = 20) -> bool:
    """For the sessions that must get through (a node may still be starting); a refusal is
    asserted at once, and always beside a source that gets through at the same moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _settle(rdb: RdbV1API, instance_id: str) -> None:
    """The change is applied once the instance is ready again (the job checks the proxies)."""
    status = rdb.get_instance(instance_id=instance_id).status
    assert status in (InstanceStatus.CONFIGURING, InstanceStatus.READY), status
    assert rdb.wait_for_instance(instance_id=instance_id, options=wait()).status == "ready"


def _ips(rules: list[Any]) -> list[str]:
    return [r.ip for r in rules]


@pytest.fixture(scope="module")
def setup(rdb: RdbV1API, docker_client: docker.DockerClient) -> Iterator[Setup]:
    with ready_instance(
        rdb, docker_client, engine="PostgreSQL-15", user=USER, password=PASSWORD, name="acl-pg"
    ) as instance_id:
        replica = rdb.create_read_replica(instance_id=instance_id)
        replica = rdb.wait_for_read_replica(read_replica_id=replica.id, options=wait())
        lb = rdb.get_instance(instance_id=instance_id).endpoints[0]
        direct = replica.endpoints[0]
        proxies = {
            c.labels["dbaas.role"]: c.attrs["NetworkSettings"]["Networks"][EDGE]["IPAddress"]
            for c in docker_client.containers.list(
                filters={"label": [f"dbaas.owner={PREFIX}", f"dbaas.instance={instance_id}"]}
            )
            if c.labels.get("dbaas.role") in ("load_balancer", "direct_access")
        }
        client = docker_client.containers.run(
            "dbaas/postgresql:15",
            ["sleep", "infinity"],
            name=f"{PREFIX}-acl-client",
            network=EDGE,
            labels={"dbaas.owner": PREFIX, "dbaas.role": "acl-test-client"},
            detach=True,
        )
        try:
            yield Setup(
                instance_id=instance_id,
                lb=(lb.ip, lb.port),
                replica=(direct.ip, direct.port),
                lb_edge_ip=proxies["load_balancer"],
                replica_edge_ip=proxies["direct_access"],
                host_source=_host_source(docker_client),
                client=client,
            )
        finally:
            client.remove(force=True)


def _host_source(docker_client: docker.DockerClient) -> str:
    """What the proxies see as the source of a client on the host: Docker's userland proxy
    connects from the host's address on the edge network (its gateway)."""
    return str(docker_client.networks.get(EDGE).attrs["IPAM"]["Config"][0]["Gateway"])


def _client_ip(setup: Setup) -> str:
    setup.client.reload()
    return str(setup.client.attrs["NetworkSettings"]["Networks"][EDGE]["IPAddress"])


def _host_in(setup: Setup) -> bool:
    return _eventually(lambda: _host_admitted(setup.lb) and _host_admitted(setup.replica))


def _host_out(setup: Setup) -> bool:
    return not _host_admitted(setup.lb) and not _host_admitted(setup.replica)


def _client_in(setup: Setup) -> bool:
    return _eventually(
        lambda: (
            _client_admitted(setup, setup.lb_edge_ip)
            and _client_admitted(setup, setup.replica_edge_ip)
        )
    )


def _client_out(setup: Setup) -> bool:
    return not _client_admitted(setup, setup.lb_edge_ip) and not _client_admitted(
        setup, setup.replica_edge_ip
    )


def _set(rdb: RdbV1API, setup: Setup, *rules: tuple[str, str]) -> list[str]:
    answer = rdb.set_instance_acl_rules(
        instance_id=setup.instance_id,
        rules=[ACLRuleRequest(ip=ip, description=text) for ip, text in rules],
    )
    _settle(rdb, setup.instance_id)
    return _ips(answer.rules)


def test_a_new_instance_admits_everybody(rdb: RdbV1API, setup: Setup) -> None:
    listed = rdb.list_instance_acl_rules(instance_id=setup.instance_id)
    assert listed.total_count == 1
    (rule,) = listed.rules
    assert (rule.ip, rule.description, rule.port) == ("0.0.0.0/0", "Allow All", setup.lb[1])
    assert (rule.protocol, rule.direction, rule.action) == ("tcp", "inbound", "allow")
    assert _host_in(setup) and _client_in(setup)


def test_the_rules_decide_by_source_address(
    rdb: RdbV1API, setup: Setup, docker_client: docker.DockerClient
) -> None:
    """The load balancer and the replica's direct access alike."""
    before = _pg(setup.lb)  # from the host, admitted now; shut once the host is not
    client_ip = _client_ip(setup)
    assert _set(rdb, setup, (client_ip, "client container")) == [f"{client_ip}/32"]
    assert _client_in(setup) and _host_out(setup)
    with pytest.raises(psycopg.OperationalError):  # its source is no longer admitted
        before.execute("SELECT 1")
    before.close()
    # The control plane's own checks through the load balancer are not locked out: a restart
    # ends with one (ready, not error).
    rdb.restart_instance(instance_id=setup.instance_id)
    assert rdb.wait_for_instance(instance_id=setup.instance_id, options=wait()).status == "ready"
    assert _client_in(setup) and _host_out(setup)
    # A proxy that restarts reads the same rules from its files.
    docker_client.containers.get(f"{PREFIX}-{setup.instance_id}-lb").restart(timeout=5)
    assert _client_in(setup) and _host_out(setup)
    rdb.wait_for_instance(instance_id=setup.instance_id, options=wait())

    # The host's address (as the proxies see it) in, the container's out.
    assert _set(rdb, setup, (setup.host_source, "the host")) == [f"{setup.host_source}/32"]
    assert _host_in(setup) and _client_out(setup)


def test_admitted_sessions_survive_changes(rdb: RdbV1API, setup: Setup) -> None:
    client_ip = _client_ip(setup)
    _set(rdb, setup, (setup.host_source, "the host"), (f"{client_ip}/32", "client"))
    with closing(_pg(setup.lb)) as session, closing(_pg(setup.replica)) as on_replica:
        pid = session.execute("SELECT pg_backend_pid()").fetchone()
        replica_pid = on_replica.execute("SELECT pg_backend_pid()").fetchone()
        added = rdb.add_instance_acl_rules(
            instance_id=setup.instance_id,
            rules=[
                ACLRuleRequest(ip="198.51.100.0/24", description="partner"),
                ACLRuleRequest(ip="203.0.113.7", description=""),
            ],
        )
        assert _ips(added.rules) == [
            f"{setup.host_source}/32",
            f"{client_ip}/32",
            "198.51.100.0/24",
            "203.0.113.7/32",
        ]
        assert added.rules[3].description == "IP allowed"  # the API's default
        _settle(rdb, setup.instance_id)
        deleted = rdb.delete_instance_acl_rules(
            instance_id=setup.instance_id, acl_rule_ips=["198.51.100.0/24", "192.0.2.1"]
        )
        assert _ips(deleted.rules) == ["198.51.100.0/24"]  # only what was deleted
        _settle(rdb, setup.instance_id)
        # Same sessions, same server processes: nothing was cut.
        assert session.execute("SELECT pg_backend_pid()").fetchone() == pid
        assert on_replica.execute("SELECT pg_backend_pid()").fetchone() == replica_pid
    listed = rdb.list_instance_acl_rules_all(instance_id=setup.instance_id)
    assert _ips(listed) == [f"{setup.host_source}/32", f"{client_ip}/32", "203.0.113.7/32"]

    # Deleting the host's rule (a bare address names it) refuses the host, not the client.
    deleted = rdb.delete_instance_acl_rules(
        instance_id=setup.instance_id, acl_rule_ips=[setup.host_source]
    )
    assert _ips(deleted.rules) == [f"{setup.host_source}/32"]
    _settle(rdb, setup.instance_id)
    assert _client_in(setup) and _host_out(setup)
    _set(rdb, setup, ("0.0.0.0/0", "Allow All"))
    assert _host_in(setup) and _client_in(setup)


def test_a_proxy_made_before_acl_rules_is_reloaded_gracefully(
    rdb: RdbV1API, setup: Setup, docker_client: docker.DockerClient
) -> None:
    """Its running configuration has no allow list: the change reloads it (a new HAProxy
    worker on the new files); the old worker keeps its open session until it ends."""
    from agents.base import FileSpec
    from workers import proxies

    name = f"{PREFIX}-{setup.instance_id}-lb"
    lb = docker_client.containers.get(name)
    _, config = lb.exec_run(["cat", f"{proxies.CONFIG_DIR}/haproxy.cfg"])
    legacy = "\n".join(line for line in config.decode().splitlines() if "tcp-request" not in line)
    legacy_file = {"haproxy.cfg": FileSpec((legacy + "\n").encode(), 0o644)}
    proxies.docker_driver.put_files(lb, proxies.CONFIG_DIR, legacy_file)
    lb.kill(signal="SIGUSR2")
    deadline = time.monotonic() + 10
    while "allow.lst" in _show_acl(name):
        assert time.monotonic() < deadline, "the legacy configuration never loaded"
        time.sleep(0.2)

    with closing(_pg(setup.lb)) as session:
        pid = session.execute("SELECT pg_backend_pid()").fetchone()
        _set(rdb, setup, (_client_ip(setup), "client container"))
        assert "allow.lst" in _show_acl(name)  # the new configuration runs
        assert _client_in(setup) and _host_out(setup)
        # The old worker still serves the session it had (a reload, not a restart).
        assert session.execute("SELECT pg_backend_pid()").fetchone() == pid
    _set(rdb, setup, ("0.0.0.0/0", "Allow All"))
    assert _host_in(setup)


def _show_acl(name: str) -> str:
    from workers import proxies

    with suppress(OSError):
        return proxies._admin_request(name, "show acl\n")
    return ""


def _mariadb_admitted(address: tuple[str, int]) -> bool:
    host, port = address
    try:
        conn = pymysql.connect(
            host=host, port=port, user=USER, password=PASSWORD, database="rdb",
            connect_timeout=3, read_timeout=3,
        )  # fmt: skip
    except pymysql.err.MySQLError:
        return False
    with closing(conn), conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def test_mariadb_endpoint_enforces_the_rules(
    rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    with ready_instance(
        rdb, docker_client, engine="MariaDB-10.11", user=USER, password=PASSWORD, name="acl-maria"
    ) as instance_id:
        endpoint = rdb.get_instance(instance_id=instance_id).endpoints[0]
        address = (endpoint.ip, endpoint.port)
        assert _mariadb_admitted(address)
        rdb.set_instance_acl_rules(
            instance_id=instance_id, rules=[ACLRuleRequest(ip="192.0.2.0/24", description="")]
        )
        _settle(rdb, instance_id)
        assert not _mariadb_admitted(address)
        rdb.add_instance_acl_rules(
            instance_id=instance_id,
            rules=[ACLRuleRequest(ip=_host_source(docker_client), description="the host")],
        )
        _settle(rdb, instance_id)
        assert _mariadb_admitted(address)
