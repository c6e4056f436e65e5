"""The MySQL-family agent's pure parts: quoting, statements, option files, init script, flavors."""

from __future__ import annotations

import subprocess

import pymysql
import pytest

from agents import passwords
from agents.base import PRIMARY_ALONE, SUPERUSER, Connection, ServerSetting
from agents.mysql import conf, flavors, replication, sql
from agents.mysql.agent import MysqlAgent, _translate
from agents.mysql.flavors import MARIADB, MYSQL
from agents.registry import agent_for
from controlplane.domain.failures import PermanentError, TemporaryError

GIB = 1024**3
HASH = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"  # mysql_native("password")
NOWHERE = Connection("127.0.0.1", 1, SUPERUSER, "x")  # any connection attempt fails


def test_native_hash_matches_the_server_algorithm() -> None:
    assert passwords.mysql_native("password") == HASH
    assert MysqlAgent().password_verifier("app", "password") == HASH


def test_registry_serves_the_mysql_family() -> None:
    assert isinstance(agent_for("mysql"), MysqlAgent)
    assert MysqlAgent.family == "mysql"


# --- quoting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("rdb", "`rdb`"), ("a`b", "`a``b`"), ("x'; DROP", "`x'; DROP`"), ("a\\b", "`a\\b`")],
)
def test_quote_identifier(name: str, quoted: str) -> None:
    assert sql.quote_identifier(name) == quoted


@pytest.mark.parametrize("name", ["", "x" * 65, "a\x00b", "trailing "])
def test_quote_identifier_refuses_invalid_names(name: str) -> None:
    with pytest.raises(ValueError):
        sql.quote_identifier(name)


@pytest.mark.parametrize(
    ("value", "quoted"), [("app", "'app'"), ("o'brien", "'o''brien'"), ("'; --", "'''; --'")]
)
def test_quote_string_doubles_quotes(value: str, quoted: str) -> None:
    assert sql.quote_string(value) == quoted


@pytest.mark.parametrize("value", ["a\\", "\\'; DROP USER x; --", "a\x00"])
def test_quote_string_refuses_what_depends_on_sql_mode(value: str) -> None:
    with pytest.raises(ValueError):
        sql.quote_string(value)


def test_grant_target_escapes_wildcards() -> None:
    assert sql.grant_database("rdb") == "`rdb`"
    assert sql.grant_database("my_db%") == "`my\\_db\\%`"


# --- statements ----------------------------------------------------------------------------


def test_identified_by_hash_per_flavor() -> None:
    assert sql.identified_by_hash(MARIADB, HASH) == (
        f"IDENTIFIED VIA mysql_native_password USING '{HASH}'"
    )
    assert (
        sql.identified_by_hash(MYSQL, HASH) == f"IDENTIFIED WITH mysql_native_password AS '{HASH}'"
    )


@pytest.mark.parametrize("verifier", ["password", HASH.lower(), HASH + "0", "*' OR 1=1 --"])
def test_only_native_hashes_are_accepted(verifier: str) -> None:
    with pytest.raises(ValueError):
        sql.identified_by_hash(MARIADB, verifier)


def test_admin_statements() -> None:
    assert sql.create_user(MARIADB, "app", HASH) == (
        f"CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED VIA mysql_native_password USING '{HASH}'"
    )
    assert sql.set_password(MARIADB, "o'x", HASH).startswith("ALTER USER 'o''x'@'%' IDENTIFIED")
    assert sql.create_database("rdb") == "CREATE DATABASE IF NOT EXISTS `rdb` CHARACTER SET utf8mb4"
    assert sql.grant_all_on_database("rdb", "app") == (
        "GRANT ALL PRIVILEGES ON `rdb`.* TO 'app'@'%' WITH GRANT OPTION"
    )
    grant = sql.grant_global(MARIADB, "app")
    assert grant == "GRANT SHOW DATABASES ON *.* TO 'app'@'%'"
    for forbidden in ("SUPER", "FILE", "SHUTDOWN", "ALL", "RELOAD", "CREATE", "PROCESS"):
        assert forbidden not in grant.split(" ON ")[0].split()


def test_superuser_sql() -> None:
    text = sql.create_superuser(MARIADB, HASH)
    assert text.startswith("FLUSH PRIVILEGES;\n")  # offline bootstrap: grant tables not loaded
    assert f"CREATE USER '{SUPERUSER}'@'%' IDENTIFIED VIA mysql_native_password" in text
    assert f"GRANT ALL PRIVILEGES ON *.* TO '{SUPERUSER}'@'%' WITH GRANT OPTION;" in text


@pytest.mark.parametrize(
    ("name", "value", "statement"),
    [
        ("max_connections", "150", "SET GLOBAL max_connections = 150"),
        ("long_query_time", "0.5", "SET GLOBAL long_query_time = 0.5"),
        ("slow_query_log", "on", "SET GLOBAL slow_query_log = 'on'"),
        ("sql_mode", "ANSI,NO_ZERO_DATE", "SET GLOBAL sql_mode = 'ANSI,NO_ZERO_DATE'"),
        ("default_time_zone", "+02:00", "SET GLOBAL default_time_zone = '+02:00'"),
    ],
)
def test_set_global(name: str, value: str, statement: str) -> None:
    assert sql.set_global(name, value) == statement


@pytest.mark.parametrize("name", ["max_connections=1; DROP", "`x`", "", "Max"])
def test_set_global_refuses_odd_variable_names(name: str) -> None:
    with pytest.raises(ValueError):
        sql.set_global(name, "1")


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (pymysql.err.OperationalError(2003, "Can't connect"), TemporaryError),
        (pymysql.err.OperationalError(2013, "Lost connection"), TemporaryError),
        (pymysql.err.OperationalError(1040, "Too many connections"), TemporaryError),
        (pymysql.err.OperationalError(1045, "Access denied"), PermanentError),
        (pymysql.err.OperationalError(1227, "need SUPER"), PermanentError),
        (pymysql.err.ProgrammingError(1064, "syntax"), PermanentError),
        (pymysql.err.InterfaceError(0, ""), TemporaryError),
    ],
)
def test_driver_errors_are_translated(exc: pymysql.Error, kind: type[Exception]) -> None:
    assert isinstance(_translate(exc), kind)


def test_reload_always_reaches_the_server_and_checks_names_first() -> None:
    # Even without hot settings: the TLS pair may have been replaced.
    with pytest.raises(TemporaryError):
        MysqlAgent().reload(NOWHERE, [ServerSetting("lower_case_table_names", "1", hot=False)])
    with pytest.raises(PermanentError):  # refused before connecting
        MysqlAgent().reload(NOWHERE, [ServerSetting("bad name", "1", hot=True)])


# --- flavors and runtime -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "flavor"), [("10.11", MARIADB), ("11.8", MARIADB), ("8.0", MYSQL), ("8.4", MYSQL)]
)
def test_flavor_for_version(version: str, flavor: flavors.Flavor) -> None:
    assert flavors.for_version(version) is flavor


def test_flavor_for_server() -> None:
    assert flavors.for_server("11.8.9-MariaDB-0+deb13u1 from Debian-log") is MARIADB
    assert flavors.for_server("8.4.3") is MYSQL
    with pytest.raises(ValueError):
        flavors.for_version("latest")


def test_runtime() -> None:
    rt = MysqlAgent().runtime("10.11")
    assert (rt.data_mount, rt.user, rt.uid, rt.gid, rt.port) == (conf.BASE, "mysql", 999, 999, 3306)
    assert rt.server_command == ["mariadbd", f"--defaults-file={conf.BASE}/my.cnf"]
    assert rt.init_command == ["sh", f"{conf.BASE}/.dbaas-init/init.sh"]
    assert rt.stop_signal == "SIGTERM" and rt.stop_timeout >= 60
    assert MysqlAgent().runtime("8.4").server_command[0] == "mysqld"


# --- init ----------------------------------------------------------------------------------


def test_init_files_carry_a_hash_never_the_password() -> None:
    password = "Sup3r-secret!pw"
    files = MysqlAgent().init_files("10.11", password, {"lower_case_table_names": "1"})
    assert set(files) == {
        ".dbaas-init/init.sh",
        ".dbaas-init/init.cnf",
        ".dbaas-init/superuser.sql",
    }
    assert all(f.uid == f.gid == 999 for f in files.values())
    assert files[".dbaas-init/superuser.sql"].mode == 0o600
    assert passwords.mysql_native(password) in files[".dbaas-init/superuser.sql"].data.decode()
    assert not any(password.encode() in f.data for f in files.values())
    init_cnf = files[".dbaas-init/init.cnf"].data.decode()
    assert '[mariadbd]\nlower_case_table_names = "1"' in init_cnf


def test_init_script_is_atomic_and_idempotent() -> None:
    script = conf.init_script(MARIADB)
    subprocess.run(["sh", "-n"], input=script.encode(), check=True)
    assert 'if [ -d "$DATA" ]; then rm -rf "$INIT"; echo "datadir exists"; exit 0; fi' in script
    install = script.index("mariadb-install-db")
    assert '--defaults-file="$INIT/init.cnf"' in script[install:].split("\n")[0]
    assert "--skip-test-db" in script and "--auth-root-authentication-method=socket" in script
    assert '--datadir="$DATA.init"' in script
    # the superuser is created with the server offline, and a failed step stops the script
    assert "--bootstrap" in script and '<"$INIT/superuser.sql"' in script
    assert '>"$INIT/install.log" 2>&1 &&\nmariadbd' in script
    # the init settings and server_id land in conf before the datadir appears
    assert script.index(f'mv "$INIT/05-init.cnf" "$BASE/{conf.INIT_FILE}"') < script.index(
        'mv "$DATA.init" "$DATA"'
    )
    mysql = conf.init_script(MYSQL)
    subprocess.run(["sh", "-n"], input=mysql.encode(), check=True)
    assert "--initialize-insecure" in mysql and '--init-file="$INIT/superuser.sql"' in mysql


# --- configuration -------------------------------------------------------------------------


def test_buffer_pool_is_half_the_memory_within_bounds() -> None:
    assert conf.buffer_pool_bytes(2 * GIB) == GIB
    assert conf.buffer_pool_bytes(100 * 1024 * 1024) == 128 * 1024 * 1024
    assert conf.buffer_pool_bytes(512 * GIB) == 64 * GIB


def test_option_value_quoting() -> None:
    assert conf.option_value("utf8mb4") == '"utf8mb4"'
    assert conf.option_value('a"b\\c #x') == '"a\\"b\\\\c #x"'
    with pytest.raises(ValueError):
        conf.option_value("1\n[client]")


def test_config_files() -> None:
    settings = [
        ServerSetting("max_connections", "150", hot=True),
        ServerSetting("character_set_server", "latin1", hot=True),
    ]
    files = MysqlAgent().config_files("10.11", settings, 2 * GIB, PRIMARY_ALONE)
    assert set(files) == {"my.cnf", "conf/00-dbaas.cnf", "conf/10-settings.cnf"}
    assert all(f.mode == 0o644 and f.uid == 999 for f in files.values())
    assert files["my.cnf"].data.decode().endswith(f"!includedir {conf.CONF_DIR}\n")
    base = files["conf/00-dbaas.cnf"].data.decode()
    for line in [
        "[mariadbd]",
        f'datadir = "{conf.DATA_DIR}"',
        'bind_address = "0.0.0.0"',
        'port = "3306"',
        'socket = "/run/mysqld/mysqld.sock"',
        'innodb_buffer_pool_size = "1024M"',
        'binlog_format = "ROW"',
        'gtid_strict_mode = "ON"',
        'log_slave_updates = "ON"',
        'skip_name_resolve = "ON"',
        f'log_error = "{conf.LOG_DIR}/error.log"',
        f'slow_query_log_file = "{conf.LOG_DIR}/slow.log"',
    ]:
        assert line in base.splitlines(), line
    assert "character_set_server" not in base  # the user's value alone decides
    assert "collation_server" not in base
    user = files["conf/10-settings.cnf"].data.decode().splitlines()
    assert user[1:] == ["[mariadbd]", 'character_set_server = "latin1"', 'max_connections = "150"']


def test_base_config_defaults_and_mysql_names() -> None:
    assert 'character_set_server = "utf8mb4"' in conf.base_cnf(MARIADB, GIB)
    mysql = conf.base_cnf(MYSQL, GIB)
    assert "[mysqld]" in mysql and 'log_replica_updates = "ON"' in mysql
    assert 'gtid_mode = "ON"' in mysql and 'enforce_gtid_consistency = "ON"' in mysql
    assert "gtid_strict_mode" not in mysql


# --- TLS -----------------------------------------------------------------------------------

CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"


def test_tls_files_live_beside_the_datadir_owned_by_the_server() -> None:
    files = MysqlAgent().tls_files("10.11", CERT_PEM, KEY_PEM)
    assert set(files) == {"tls/server.crt", "tls/server.key"}
    cert, key = files["tls/server.crt"], files["tls/server.key"]
    assert (cert.data, key.data) == (CERT_PEM.encode(), KEY_PEM.encode())
    assert (cert.uid, cert.gid, key.uid, key.gid) == (999, 999, 999, 999)
    assert (cert.mode, key.mode) == (0o644, 0o600)
    data = conf.DATA_DIR.removeprefix(conf.BASE + "/")
    assert not any(path.startswith(data + "/") for path in files)  # never a database


@pytest.mark.parametrize(("version", "group"), [("10.11", "mariadbd"), ("8.4", "mysqld")])
def test_config_points_the_server_at_the_tls_files(version: str, group: str) -> None:
    agent = MysqlAgent()
    tls = agent.tls_files(version, CERT_PEM, KEY_PEM)
    base = agent.config_files(version, [], GIB, PRIMARY_ALONE)["conf/00-dbaas.cnf"].data.decode()
    options = dict(
        line.split(" = ", 1) for line in base.split(f"[{group}]")[1].splitlines() if " = " in line
    )
    cert, key = (f'"{agent.runtime(version).data_mount}/{path}"' for path in sorted(tls))
    assert options["ssl_cert"] == cert and options["ssl_key"] == key
    assert options["ssl_ca"] == cert  # self-signed: the certificate is its own trust anchor
    assert options["tls_version"] == '"TLSv1.2,TLSv1.3"'  # nothing older


def test_tls_reload_per_flavor_is_never_binlogged() -> None:
    # A binlogged FLUSH is an errant GTID on a replica, and waits for the standby on the primary.
    assert MARIADB.tls_reload == "FLUSH NO_WRITE_TO_BINLOG SSL"
    assert MYSQL.tls_reload == "ALTER INSTANCE RELOAD TLS"


def test_followers_verify_their_primary_against_their_copy_of_the_certificate() -> None:
    ca = f"{conf.BASE}/{conf.TLS_CERT}"
    statement = replication.follow(MARIADB, "n1", "pw")
    assert f"MASTER_SSL=1, MASTER_SSL_CA='{ca}', MASTER_SSL_VERIFY_SERVER_CERT=0" in statement
    assert statement.endswith(", MASTER_USE_GTID=slave_pos")
    assert replication.source_tls(MARIADB) == (
        f"CHANGE MASTER TO MASTER_SSL=1, MASTER_SSL_CA='{ca}', MASTER_SSL_VERIFY_SERVER_CERT=0"
    )
    assert replication.source_tls(MYSQL) == (
        "CHANGE REPLICATION SOURCE TO "
        f"SOURCE_SSL=1, SOURCE_SSL_CA='{ca}', SOURCE_SSL_VERIFY_SERVER_CERT=0"
    )
    assert replication.source_tls_status(MARIADB) == {
        "Master_SSL_Allowed": "Yes",
        "Master_SSL_CA_File": ca,
        "Master_SSL_Verify_Server_Cert": "No",
    }
    assert set(replication.source_tls_status(MYSQL)) == {
        "Source_SSL_Allowed",
        "Source_SSL_CA_File",
        "Source_SSL_Verify_Server_Cert",
    }


def test_the_clone_dumps_over_tls() -> None:
    assert "\nssl\n" in replication.client_cnf("n1", "pw")
