"""Everything that differs between MariaDB and MySQL 8, in one place.

The rest of the MySQL-family agent is written against a ``Flavor``; adding a MySQL image later
means adding catalog data (engine ``MySQL``, family ``mysql``, versions ``8.0``/``8.4``) and, if
needed, adjusting the ``MYSQL`` entry below. MariaDB entries are verified on 10.11 and 11.8; the
MySQL entry follows the MySQL 8 documentation (ENGINES.md section 2) and is not exercised yet.

Flavor selection needs no interface change: pure renderings get the catalog's major version
(MariaDB numbers its majors 10 and up, MySQL 5 to 9), live calls look at ``SELECT VERSION()``
(MariaDB's contains ``MariaDB``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flavor:
    name: str
    server: str  # server binary, also the container CMD
    client: str  # command-line client
    admin: str  # mariadb-admin / mysqladmin
    option_group: str  # my.cnf group only this server reads
    # Shell fragment of conf.init_script: creates the system schema in "$DATA.init", then runs
    # "$INIT/superuser.sql" with the server offline; output goes to "$INIT/install.log".
    install_db: str
    replica_updates: str  # name of log_slave_updates / log_replica_updates
    gtid_options: dict[str, str]  # server options that make GTID replication possible
    extra_options: dict[str, str] = field(default_factory=dict)
    tls_reload: str = "FLUSH SSL"
    change_source: str = "CHANGE MASTER TO"
    gtid_auto_position: str = "MASTER_USE_GTID=slave_pos"
    start_replica: str = "START SLAVE"
    stop_replica: str = "STOP SLAVE"
    password_plugin: str = "mysql_native_password"
    # ``{hash}`` is replaced by the quoted mysql_native_password hash.
    identified_by_hash: str = "IDENTIFIED VIA mysql_native_password USING {hash}"
    # Global privileges of the customer's admin (besides ALL on the default database): enough to
    # manage users and watch the server, without SUPER, FILE, SHUTDOWN, RELOAD (RESET MASTER) or
    # READ_ONLY ADMIN (writes on replicas would create errant GTIDs).
    admin_global_privileges: tuple[str, ...] = (
        "PROCESS",
        "REPLICATION CLIENT",
        "SHOW DATABASES",
        "CREATE USER",
    )


MARIADB = Flavor(
    name="mariadb",
    server="mariadbd",
    client="mariadb",
    admin="mariadb-admin",
    option_group="mariadbd",
    # --user=mysql also creates mysql@localhost (unix_socket), so `docker exec -u mysql mariadb`
    # works; root@localhost is socket-only. --bootstrap (no network, no socket, exits at EOF;
    # non-zero on the first failed statement) is ~1 s faster than a temporary server.
    install_db=(
        'mariadb-install-db --defaults-file="$INIT/init.cnf" --user=mysql --skip-test-db \\\n'
        '  --auth-root-authentication-method=socket --datadir="$DATA.init" \\\n'
        '  >"$INIT/install.log" 2>&1 &&\n'
        'mariadbd --defaults-file="$INIT/init.cnf" --datadir="$DATA.init" --bootstrap \\\n'
        '  --skip-log-bin --log-error="$INIT/bootstrap.log" \\\n'
        '  <"$INIT/superuser.sql" >>"$INIT/install.log" 2>&1'
    ),
    replica_updates="log_slave_updates",
    gtid_options={"gtid_strict_mode": "ON"},  # MariaDB GTIDs are always on
    # 2 logs every handshake the load balancer's health check leaves unfinished (one a second).
    extra_options={"log_warnings": "1"},
)

MYSQL = Flavor(
    name="mysql",
    server="mysqld",
    client="mysql",
    admin="mysqladmin",
    option_group="mysqld",
    # root@localhost with an empty password, reachable only through the socket; --init-file
    # runs during --initialize.
    install_db=(
        'mysqld --defaults-file="$INIT/init.cnf" --initialize-insecure --user=mysql \\\n'
        '  --datadir="$DATA.init" --init-file="$INIT/superuser.sql" >"$INIT/install.log" 2>&1'
    ),
    replica_updates="log_replica_updates",
    gtid_options={"gtid_mode": "ON", "enforce_gtid_consistency": "ON"},
    # 8.4 disables mysql_native_password by default; our verifier is that hash.
    extra_options={"mysql_native_password": "ON", "log_error_verbosity": "2"},
    tls_reload="ALTER INSTANCE RELOAD TLS",
    change_source="CHANGE REPLICATION SOURCE TO",
    gtid_auto_position="SOURCE_AUTO_POSITION=1",
    start_replica="START REPLICA",
    stop_replica="STOP REPLICA",
    identified_by_hash="IDENTIFIED WITH mysql_native_password AS {hash}",
)


def for_version(major_version: str) -> Flavor:
    """The flavor of a catalog major version: ``10.11`` -> MariaDB, ``8.4`` -> MySQL."""
    try:
        major = int(major_version.split(".")[0])
    except ValueError:
        raise ValueError(f"not a MySQL-family version: {major_version!r}") from None
    return MARIADB if major >= 10 else MYSQL


def for_server(version: str) -> Flavor:
    """The flavor of a running server from ``SELECT VERSION()`` (``10.11.19-MariaDB-0+deb12u1``)."""
    return MARIADB if "mariadb" in version.lower() else MYSQL
