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
class SemiSync:
    """Names of the semi-synchronous replication variables and status counters."""

    primary_enabled: str
    wait_point: str
    timeout: str  # milliseconds
    wait_no_replica: str
    replica_enabled: str
    primary_status: str  # status: ON while commits wait for an acknowledgement
    primary_clients: str  # status: connected semi-synchronous replicas
    replica_status: str  # status, on a replica: its receiver negotiated semi-sync


MARIADB_SEMI_SYNC = SemiSync(
    primary_enabled="rpl_semi_sync_master_enabled",
    wait_point="rpl_semi_sync_master_wait_point",
    timeout="rpl_semi_sync_master_timeout",
    wait_no_replica="rpl_semi_sync_master_wait_no_slave",
    replica_enabled="rpl_semi_sync_slave_enabled",
    primary_status="Rpl_semi_sync_master_status",
    primary_clients="Rpl_semi_sync_master_clients",
    replica_status="Rpl_semi_sync_slave_status",
)
MYSQL_SEMI_SYNC = SemiSync(
    primary_enabled="rpl_semi_sync_source_enabled",
    wait_point="rpl_semi_sync_source_wait_point",
    timeout="rpl_semi_sync_source_timeout",
    wait_no_replica="rpl_semi_sync_source_wait_no_replica",
    replica_enabled="rpl_semi_sync_replica_enabled",
    primary_status="Rpl_semi_sync_source_status",
    primary_clients="Rpl_semi_sync_source_clients",
    replica_status="Rpl_semi_sync_replica_status",
)


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
    # Re-read the certificate and key files. A plain FLUSH is binlogged: on a replica it would be
    # an errant GTID, on the primary a statement waiting for the standby's acknowledgement.
    tls_reload: str = "FLUSH NO_WRITE_TO_BINLOG SSL"
    change_source: str = "CHANGE MASTER TO"
    source_option_prefix: str = "MASTER"  # MASTER_HOST, MASTER_USER, ... / SOURCE_HOST, ...
    gtid_auto_position: str = "MASTER_USE_GTID=slave_pos"
    start_replica: str = "START SLAVE"
    stop_replica: str = "STOP SLAVE"
    stop_receiver: str = "STOP SLAVE IO_THREAD"
    start_receiver: str = "START SLAVE IO_THREAD"
    reset_replica: str = "RESET SLAVE ALL"  # forget the primary: the node is a primary now
    replica_status: str = "SHOW SLAVE STATUS"  # no row when the node follows nobody
    replica_hosts: str = "SHOW SLAVE HOSTS"  # registered replicas: Server_id, Host (report_host)
    source_host_column: str = "Master_Host"
    # The replication connection's TLS: enabled, CA file, host name verified.
    source_tls_columns: tuple[str, str, str] = (
        "Master_SSL_Allowed",
        "Master_SSL_CA_File",
        "Master_SSL_Verify_Server_Cert",
    )
    received_column: str = "Gtid_IO_Pos"  # GTIDs the receiver wrote to the relay log
    # The primary's binlog file and offset the applier has reached.
    applied_file_column: str = "Relay_Master_Log_File"
    applied_offset_column: str = "Exec_Master_Log_Pos"
    receiver_running_column: str = "Slave_IO_Running"
    applier_running_column: str = "Slave_SQL_Running"
    applier_error_column: str = "Last_SQL_Error"
    # ``(position, timeout_seconds)``: returns 0 once the position is applied.
    wait_applied: str = "MASTER_GTID_WAIT"
    dump_thread_commands: tuple[str, ...] = ("Binlog Dump",)
    # Every variable that must be OFF for the node to accept writes (MySQL adds super_read_only).
    read_only_variables: tuple[str, ...] = ("read_only",)
    semi_sync: SemiSync = MARIADB_SEMI_SYNC
    # Options that make semi-sync available at all (MySQL loads plugins; MariaDB has it built in).
    semi_sync_options: dict[str, str] = field(default_factory=dict)
    # What the replication account may do: stream the binlog, and read everything for the
    # consistent dump a new standby starts from (SELECT, SHOW VIEW, TRIGGER, EVENT; the binlog
    # position comes from the snapshot, so no RELOAD / FLUSH TABLES WITH READ LOCK is needed).
    replicator_privileges: tuple[str, ...] = (
        "REPLICATION SLAVE",
        "BINLOG MONITOR",
        "SELECT",
        "SHOW VIEW",
        "TRIGGER",
        "EVENT",
    )
    password_plugin: str = "mysql_native_password"
    # ``{hash}`` is replaced by the quoted mysql_native_password hash.
    identified_by_hash: str = "IDENTIFIED VIA mysql_native_password USING {hash}"
    # Global privileges of the customer's admin (besides ALL on its databases): none that
    # reaches accounts (CREATE USER: MariaDB has no SYSTEM_USER to protect the service's own),
    # other sessions' statements (PROCESS), the binlog (BINLOG MONITOR) or the server. Users and
    # databases come from admin_routines (definer rights) or the API.
    admin_global_privileges: tuple[str, ...] = ("SHOW DATABASES",)


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
    tls_reload="ALTER INSTANCE RELOAD TLS",  # never binlogged; keeps the old pair on failure
    change_source="CHANGE REPLICATION SOURCE TO",
    source_option_prefix="SOURCE",
    gtid_auto_position="SOURCE_AUTO_POSITION=1",
    start_replica="START REPLICA",
    stop_replica="STOP REPLICA",
    stop_receiver="STOP REPLICA IO_THREAD",
    start_receiver="START REPLICA IO_THREAD",
    reset_replica="RESET REPLICA ALL",
    replica_status="SHOW REPLICA STATUS",
    replica_hosts="SHOW REPLICAS",
    source_host_column="Source_Host",
    source_tls_columns=(
        "Source_SSL_Allowed",
        "Source_SSL_CA_File",
        "Source_SSL_Verify_Server_Cert",
    ),
    received_column="Retrieved_Gtid_Set",
    applied_file_column="Relay_Source_Log_File",
    applied_offset_column="Exec_Source_Log_Pos",
    receiver_running_column="Replica_IO_Running",
    applier_running_column="Replica_SQL_Running",
    applier_error_column="Last_SQL_Error",
    wait_applied="WAIT_FOR_EXECUTED_GTID_SET",
    dump_thread_commands=("Binlog Dump GTID", "Binlog Dump"),
    read_only_variables=("super_read_only", "read_only"),
    semi_sync=MYSQL_SEMI_SYNC,
    semi_sync_options={"plugin_load_add": "semisync_source.so;semisync_replica.so"},
    replicator_privileges=(
        "REPLICATION SLAVE",
        "REPLICATION CLIENT",
        "SELECT",
        "SHOW VIEW",
        "TRIGGER",
        "EVENT",
        "RELOAD",
    ),
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
