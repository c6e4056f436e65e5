"""The MySQL-family replication's pure parts: role options, statements, the clone, the verdicts."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace

import pytest

from agents.base import SUPERUSER, Connection, Role, StandbyState
from agents.mysql import conf, replication
from agents.mysql.agent import SILENT_LIMIT_SECONDS, MysqlAgent
from agents.mysql.flavors import MARIADB, MYSQL
from agents.mysql.replication import FollowerView, PrimaryView, Silence
from controlplane.domain.failures import PermanentError, TemporaryError

GIB = 1024**3
NOWHERE = Connection("127.0.0.1", 1, SUPERUSER, "x")  # any connection attempt fails
PRIMARY_SYNC = Role("primary", "n1", sync_standbys=("n2",))
PRIMARY_ALONE = Role("primary", "n1")
STANDBY = Role("standby", "n2", primary_host="n1")
REPLICA = Role("replica", "n3", primary_host="n1")


# --- role options -----------------------------------------------------------------------------


def test_primary_with_a_sync_standby_waits_after_sync_and_never_falls_back() -> None:
    options = replication.role_options(MARIADB, PRIMARY_SYNC)
    assert options["rpl_semi_sync_master_enabled"] == "ON"
    assert options["rpl_semi_sync_master_wait_point"] == "AFTER_SYNC"
    assert options["rpl_semi_sync_master_wait_no_slave"] == "ON"
    assert int(options["rpl_semi_sync_master_timeout"]) >= 30 * 24 * 3600 * 1000  # a month
    assert options["read_only"] == "OFF"
    assert options["rpl_semi_sync_slave_enabled"] == "OFF"
    assert options["report_host"] == "n1"


def test_primary_without_sync_standbys_does_not_wait() -> None:
    options = replication.role_options(MARIADB, PRIMARY_ALONE)
    assert options["rpl_semi_sync_master_enabled"] == "OFF"
    assert options["read_only"] == "OFF"


def test_standby_acknowledges_and_replica_does_not() -> None:
    standby = replication.role_options(MARIADB, STANDBY)
    replica = replication.role_options(MARIADB, REPLICA)
    assert standby["rpl_semi_sync_slave_enabled"] == "ON"
    assert replica["rpl_semi_sync_slave_enabled"] == "OFF"  # async: never an acknowledger
    for options, node in ((standby, "n2"), (replica, "n3")):
        assert options["read_only"] == "ON"
        assert options["rpl_semi_sync_master_enabled"] == "OFF"
        assert options["report_host"] == node


def test_mysql_flavor_uses_its_own_names() -> None:
    options = replication.role_options(MYSQL, STANDBY)
    assert options["rpl_semi_sync_replica_enabled"] == "ON"
    assert options["rpl_semi_sync_source_enabled"] == "OFF"
    assert options["super_read_only"] == options["read_only"] == "ON"
    assert "semisync_source.so" in options["plugin_load_add"]


def test_role_is_part_of_the_configuration() -> None:
    files = MysqlAgent().config_files("10.11", [], GIB, STANDBY)
    assert set(files) == {conf.MAIN_FILE, conf.BASE_FILE, conf.SETTINGS_FILE}
    spec = files[conf.BASE_FILE]
    assert spec.mode == 0o644 and (spec.uid, spec.gid) == (conf.UID, conf.GID)
    role = spec.data.decode().split("# Replication role")[1].splitlines()
    assert role[2] == "[mariadbd]"
    assert 'report_host = "n2"' in role
    assert 'read_only = "ON"' in role
    assert 'rpl_semi_sync_slave_enabled = "ON"' in role
    assert "following n1" in role[1]


def test_runtime_settings_release_waiting_commits_first() -> None:
    names = [name for name, _ in replication.runtime_settings(MARIADB, PRIMARY_ALONE)]
    assert names[0] == "rpl_semi_sync_master_enabled"
    assert "report_host" not in names  # read at startup only


def test_runtime_settings_switch_semi_sync_on_last() -> None:
    settings = replication.runtime_settings(MARIADB, PRIMARY_SYNC)
    assert settings[-1] == ("rpl_semi_sync_master_enabled", "ON")
    assert ("rpl_semi_sync_master_wait_point", "AFTER_SYNC") in settings
    assert ("read_only", "OFF") in settings


def test_runtime_settings_leave_plugins_to_startup() -> None:
    names = [name for name, _ in replication.runtime_settings(MYSQL, STANDBY)]
    assert "plugin_load_add" not in names
    assert names[0] == "rpl_semi_sync_source_enabled"


# --- statements -----------------------------------------------------------------------------


def test_follow_uses_gtid_and_quick_reconnects() -> None:
    statement = replication.follow(MARIADB, "n1", "s3cr'et")
    assert statement.startswith("CHANGE MASTER TO MASTER_HOST='n1', MASTER_PORT=3306, ")
    assert "MASTER_USER='_rdb_replicator'" in statement
    assert "MASTER_PASSWORD='s3cr''et'" in statement
    assert "MASTER_HEARTBEAT_PERIOD=1" in statement
    assert statement.endswith("MASTER_USE_GTID=slave_pos")


def test_follow_refuses_a_password_that_depends_on_sql_mode() -> None:
    with pytest.raises(ValueError):
        replication.follow(MARIADB, "n1", "a\\b")


def test_repoint_keeps_the_credentials() -> None:
    assert replication.repoint(MARIADB, "n2") == (
        "CHANGE MASTER TO MASTER_HOST='n2', MASTER_PORT=3306, MASTER_USE_GTID=slave_pos"
    )
    assert replication.repoint(MYSQL, "n2") == (
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST='n2', SOURCE_PORT=3306, SOURCE_AUTO_POSITION=1"
    )


def test_replicator_can_stream_and_dump_but_not_lock_or_write() -> None:
    create, alter, grant = replication.create_replicator(MARIADB, "IDENTIFIED BY PASSWORD 'x'")
    assert create.startswith("CREATE USER IF NOT EXISTS '_rdb_replicator'@'%'")
    assert alter.startswith("ALTER USER '_rdb_replicator'@'%'")
    privileges = grant.removeprefix("GRANT ").split(" ON ")[0].split(", ")
    assert {"REPLICATION SLAVE", "BINLOG MONITOR", "SELECT", "SHOW VIEW"} <= set(privileges)
    assert not {"RELOAD", "SUPER", "ALL PRIVILEGES", "INSERT", "READ_ONLY ADMIN"} & set(privileges)


def test_wait_applied_is_parameterised() -> None:
    assert replication.wait_applied(MARIADB) == "SELECT MASTER_GTID_WAIT(%s, %s)"
    assert replication.wait_applied(MYSQL) == "SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)"


# --- the clone --------------------------------------------------------------------------------


def test_clone_files_keep_the_password_out_of_the_script_and_the_command() -> None:
    agent = MysqlAgent()
    files = agent.clone_files("10.11", STANDBY, "R3pl1cati0n")
    work = replication.CLONE_DIR
    assert files[f"{work}/clone.sh"].mode == 0o700
    assert files[f"{work}/primary.cnf"].mode == 0o600
    assert files[f"{work}/follow.sql"].mode == 0o600
    assert b"R3pl1cati0n" in files[f"{work}/primary.cnf"].data
    assert b"R3pl1cati0n" in files[f"{work}/follow.sql"].data
    assert b"R3pl1cati0n" not in files[f"{work}/clone.sh"].data
    command = agent.clone_command("10.11", STANDBY)
    assert command == ["bash", f"{conf.BASE}/{work}/clone.sh"]


def test_clone_script_is_valid_bash() -> None:
    script = replication.clone_script(MARIADB, STANDBY)
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)


def test_clone_script_loads_without_binlog_and_swaps_into_place() -> None:
    script = replication.clone_script(MARIADB, STANDBY)
    assert script.startswith("set -euo pipefail\n")  # a failed dump fails the pipeline
    assert 'rm -rf "$DATA" "$DATA.clone"' in script  # a re-run starts over
    assert "--skip-log-bin" in script  # loaded rows must not become this node's own GTIDs
    assert "--skip-networking" in script
    assert "--single-transaction --gtid --master-data=1" in script
    assert "--all-databases" in script  # accounts too: they survive a failover
    assert 'ln -s data.clone "$DATA"' in script  # relay-log index paths are final
    assert script.index('mv "$DATA.clone" "$DATA"') > script.index("stop_server\nPID=")
    assert 'while [ "$SERVER_ID" = "$PRIMARY_ID" ]' in script  # never the primary's id
    assert "primary n1 unreachable" in script


def test_follow_sql_rewrites_the_position_and_follows() -> None:
    text = replication.follow_sql(MARIADB, STANDBY, "pw")
    lines = text.splitlines()
    assert lines[0] == "SET GLOBAL gtid_slave_pos = @@gtid_slave_pos;"
    assert lines[1].startswith("CHANGE MASTER TO MASTER_HOST='n1'")


def test_client_cnf_quotes_the_password() -> None:
    text = replication.client_cnf("n1", 'p"w#1')
    assert text.startswith("[client]\n")
    assert 'password = "p\\"w#1"' in text
    assert 'user = "_rdb_replicator"' in text


def test_clone_is_refused_without_a_primary_or_for_mysql() -> None:
    agent = MysqlAgent()
    with pytest.raises(PermanentError):
        agent.clone_files("10.11", Role("standby", "n2"), "pw")
    with pytest.raises(PermanentError):
        agent.clone_files("8.4", STANDBY, "pw")
    with pytest.raises(ValueError):
        replication.clone_script(MYSQL, STANDBY)


# --- what the primary reports -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("", {}), ("0-1-12", {0: 12}), ("0-1-12,1-3-7", {0: 12, 1: 7}), (" 0-2-5 ,\n", {0: 5})],
)
def test_parse_gtid_position(text: str, parsed: dict[int, int]) -> None:
    assert replication.parse_gtid_position(text) == parsed


@pytest.mark.parametrize(
    ("position", "wanted", "covered"),
    [
        ("0-1-12", "0-1-12", True),
        ("0-2-13", "0-1-12", True),  # the server id does not matter, the sequence does
        ("0-1-11", "0-1-12", False),
        ("0-1-12", "0-1-12,1-1-3", False),
        ("", "", True),
        ("", "0-1-1", False),
    ],
)
def test_covers(position: str, wanted: str, covered: bool) -> None:
    assert replication.covers(position, wanted) is covered


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("172.18.0.3:41234", "172.18.0.3"),
        ("[fd00::3]:41234", "fd00::3"),
        ("172.18.0.3", "172.18.0.3"),
        ("localhost", None),
        ("", None),
    ],
)
def test_dump_address(host: str, address: str | None) -> None:
    assert replication.dump_address(host) == address


def _view(
    followers: tuple[str, ...] = ("n2",),
    threads: tuple[tuple[int, str], ...] = ((7, "10.0.0.2"),),
    on: bool = True,
    clients: int = 1,
    position: str = "0-1-10",
) -> PrimaryView:
    return PrimaryView(followers, threads, on, clients, position)


def _follower(
    node: str = "n2", semi_sync: bool = True, received: str = "0-1-10", receiving: bool = True
) -> FollowerView:
    return FollowerView(node, receiving, semi_sync, received)


def test_the_only_acknowledging_standby_is_synchronous() -> None:
    states = replication.standby_states(_view(), {"10.0.0.2": _follower()})
    assert states == {"n2": StandbyState("n2", True, True, None)}


def test_an_async_replica_never_counts_as_synchronous() -> None:
    view = _view(followers=("n2", "n3"), threads=((7, "10.0.0.2"), (8, "10.0.0.3")))
    probes = {"10.0.0.2": _follower(), "10.0.0.3": _follower("n3", semi_sync=False)}
    states = replication.standby_states(view, probes)
    assert states["n2"].synchronous and states["n2"].streaming
    assert not states["n3"].synchronous and states["n3"].streaming


def test_nobody_is_synchronous_while_two_clients_could_acknowledge() -> None:
    view = _view(followers=("n2", "n3"), threads=((7, "10.0.0.2"), (8, "10.0.0.3")), clients=2)
    probes = {"10.0.0.2": _follower(), "10.0.0.3": _follower("n3")}
    assert not any(s.synchronous for s in replication.standby_states(view, probes).values())


def test_a_stale_semi_sync_connection_blocks_the_verdict() -> None:
    # The killed copy's dump connection lingers and still counts as a client.
    view = _view(threads=((7, "10.0.0.2"), (9, "10.0.0.9")), followers=("n2", "n2"), clients=2)
    probes = {"10.0.0.2": _follower(), "10.0.0.9": Silence.UNREACHABLE}
    assert replication.standby_states(view, probes) == {"n2": StandbyState("n2", True, False, None)}
    assert replication.stale_dump_threads(view, probes) == [9]


def test_a_killed_standby_is_not_streaming_though_still_registered() -> None:
    states = replication.standby_states(_view(), {"10.0.0.2": Silence.UNREACHABLE})
    assert states == {"n2": StandbyState("n2", False, False, None)}


def test_a_busy_standby_keeps_streaming_but_is_not_called_synchronous() -> None:
    states = replication.standby_states(_view(), {"10.0.0.2": Silence.NO_ANSWER})
    assert states == {"n2": StandbyState("n2", True, False, None)}
    assert replication.stale_dump_threads(_view(), {"10.0.0.2": Silence.NO_ANSWER}) == []


def test_only_unreachable_peers_are_stale() -> None:
    view = _view(threads=((7, "10.0.0.2"), (8, "10.0.0.3"), (9, "10.0.0.4")))
    probes = {"10.0.0.2": _follower(), "10.0.0.3": Silence.NO_ANSWER}  # 10.0.0.4 never probed
    assert replication.stale_dump_threads(view, probes) == [9]


@pytest.mark.parametrize(
    ("grants", "privileges"),
    [
        (
            [
                "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `_rdb_replicator`@`%` "
                "IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'"
            ],
            {"SELECT", "REPLICATION SLAVE", "BINLOG MONITOR"},
        ),
        (["GRANT USAGE ON `rdb`.* TO `x`@`%`"], set()),
        ([], set()),
    ],
)
def test_granted_privileges(grants: list[str], privileges: set[str]) -> None:
    assert replication.granted_privileges(grants) == privileges


@pytest.mark.parametrize(
    ("view", "follower"),
    [
        (_view(on=False), _follower()),  # semi-sync off (or degraded): nothing waits
        (_view(clients=0), _follower()),
        (_view(), _follower(semi_sync=False)),
        (_view(), _follower(received="0-1-9")),  # behind the primary's binlog
        (_view(), _follower(receiving=False)),
    ],
)
def test_not_synchronous(view: PrimaryView, follower: FollowerView) -> None:
    assert not replication.standby_states(view, {"10.0.0.2": follower})["n2"].synchronous


def test_a_probe_must_name_a_registered_follower() -> None:
    states = replication.standby_states(_view(), {"10.0.0.2": _follower("n7")})
    assert states == {"n2": StandbyState("n2", False, False, None)}


def test_the_verdicts_are_quick_when_a_follower_vanished() -> None:
    started = time.monotonic()  # a closed port answers at once; the monitor allows 0.8 s
    view = replace(_view(), dump_threads=((7, "127.0.0.1"),))
    probes = MysqlAgent()._probe(replace(NOWHERE, port=1), view, MARIADB)
    assert probes == {"127.0.0.1": Silence.UNREACHABLE}
    assert time.monotonic() - started < 0.8


# --- live calls fail the way the workers expect ---------------------------------------------


def test_reload_with_a_role_reaches_the_server() -> None:
    with pytest.raises(TemporaryError):
        MysqlAgent().reload(NOWHERE, [], STANDBY)


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.promote(NOWHERE),
        lambda a: a.replication_state(NOWHERE),
        lambda a: a.is_primary(NOWHERE),
        lambda a: a.ensure_replication_user(NOWHERE, "pw"),
        lambda a: a.prepare_clone(NOWHERE, STANDBY),
    ],
)
def test_unreachable_server_is_temporary(call: object) -> None:
    with pytest.raises(TemporaryError):
        call(MysqlAgent())  # type: ignore[operator]


@pytest.mark.parametrize(
    ("file", "offset", "lag"),
    [
        ("binlog.000002", 300, 200),
        ("binlog.000002", 500, 0),
        ("binlog.000001", 900, 100 + 500),  # the rest of the first file, then all of the second
        ("binlog.000009", 4, None),  # a position in another primary's binlog
        ("", 0, None),
    ],
)
def test_replay_lag_bytes(file: str, offset: int, lag: int | None) -> None:
    binlogs = (("binlog.000001", 1000), ("binlog.000002", 500))
    assert replication.replay_lag_bytes(binlogs, file, offset) == lag


def test_lag_is_reported_for_answering_followers() -> None:
    view = PrimaryView(("n2",), ((7, "10.0.0.2"),), True, 1, "0-1-10", (("binlog.000001", 900),))
    follower = FollowerView("n2", True, True, "0-1-10", "binlog.000001", 850)
    assert replication.standby_states(view, {"10.0.0.2": follower})["n2"].lag_bytes == 50


def test_a_frozen_follower_counts_as_gone_after_the_limit() -> None:
    agent = MysqlAgent()
    assert agent._silence_limit("10.0.0.2", Silence.NO_ANSWER) is Silence.NO_ANSWER
    agent._silent_since["10.0.0.2"] -= SILENT_LIMIT_SECONDS + 1
    assert agent._silence_limit("10.0.0.2", Silence.NO_ANSWER) is Silence.UNREACHABLE
    assert agent._silence_limit("10.0.0.2", _follower()) == _follower()  # it answers again
    assert "10.0.0.2" not in agent._silent_since
