"""The contract every engine agent implements (PostgreSQL, MySQL family).

Workers never branch on the engine: they ask the agent for the node runtime (image layout,
commands), for pure renderings (init files, config files, password verifiers) and call it for
the few operations that need a live connection. Engine driver exceptions are translated inside
the agent into ``TemporaryError`` / ``PermanentError``.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from controlplane.domain.failures import TemporaryError

SUPERUSER = "_rdb_superadmin"
DEFAULT_DATABASE = "rdb"


@dataclass(frozen=True)
class FileSpec:
    data: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class NodeRuntime:
    """How a node container of this engine runs."""

    data_mount: str  # where the node's volume is mounted
    uid: int
    gid: int
    user: str
    port: int
    server_command: list[str]
    init_command: list[str]
    initialised: str  # a file the init command leaves last, relative to data_mount
    version_command: list[str]  # prints the engine's exact version (parsed by engine_version)
    log_dir: str  # the engine's log files, relative to data_mount (collected by workers)
    stop_signal: str
    stop_timeout: int


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    password: str
    # Where the control plane reaches the instance's nodes by their address on the instance
    # network, when that network is not reachable from here (swarm mode: (address, host, port)).
    routes: tuple[tuple[str, str, int], ...] = ()

    def to_peer(self, address: str, port: int) -> Connection:
        """The same login to a peer node known by its address on the instance network."""
        for peer, host, routed_port in self.routes:
            if peer == address:
                return replace(self, host=host, port=routed_port)
        return replace(self, host=address, port=port)


@dataclass(frozen=True)
class Role:
    """What a node is in its instance's topology; config renderings depend on it."""

    kind: str  # primary | standby | replica | copy
    node: str  # n1, n2, ...: also the node's DNS name on the instance network
    primary_host: str | None = None  # standby/replica/copy: the node it copies from
    sync_standbys: tuple[str, ...] = ()  # primary: standbys that must confirm every commit
    # copy: the source runs an older major version (its system tables need an upgrade)
    upgrade: bool = False


def engine_version(version_output: str) -> str:
    """The exact version a server's ``--version`` prints: "postgres (PostgreSQL) 15.20 (Debian
    15.20-0+deb12u1)" -> "15.20"; "mariadbd  Ver 10.11.14-MariaDB-0+deb12u2 ..." -> "10.11.14"."""
    match = re.search(r"\b(\d+\.\d+(?:\.\d+)?)", version_output)
    if match is None:
        raise ValueError(f"no version in {version_output[:200]!r}")
    return match.group(1)


def copy_of(host: str, node: str, upgrade: bool = False) -> Role:
    """A node that starts as an independent primary holding a consistent copy of ``host``
    (a clone, a major upgrade): it follows nobody afterwards."""
    return Role(kind="copy", node=node, primary_host=host, upgrade=upgrade)


PRIMARY_ALONE = Role(kind="primary", node="n1")


@dataclass(frozen=True)
class PhysicalCopy:
    """A snapshot streamed out of the running main node (MariaDB: mariadb-backup) instead of
    cloned over the network; see ``EngineAgent.physical_copy``."""

    command: list[str]  # run in the main node as ``runtime.user``: the copy on stdout
    stream: str  # where the worker writes that stdout, in the exchange directory
    kept: tuple[str, ...]  # node files (relative to the data mount) copied under ``kept_dir``
    kept_dir: str
    finish: str  # shell run in a one-shot container (exchange mounted): makes the archive


@dataclass(frozen=True)
class StandbyState:
    """A replicating node as its primary sees it."""

    node: str
    streaming: bool
    synchronous: bool
    lag_bytes: int | None


@dataclass(frozen=True)
class Activity:
    """What a node serves (metrics): client sessions open now, the control plane's own left
    out, and a running count of transactions that wrote data (read-only ones count nowhere)."""

    connections: int
    write_transactions: int


@dataclass(frozen=True)
class ServerSetting:
    """A user-facing setting resolved to what the engine understands."""

    name: str  # engine parameter name
    value: str  # already rendered with the engine's unit and quoting
    hot: bool


@dataclass(frozen=True)
class DatabaseInfo:
    """A customer database: ``managed`` when made through the API (and ``rdb``)."""

    name: str
    owner: str
    managed: bool
    size: int  # bytes; 0 when sizes were not asked for


@dataclass(frozen=True)
class UserInfo:
    name: str
    is_admin: bool


@dataclass(frozen=True)
class PrivilegeInfo:
    database: str
    user: str
    permission: str  # a controlplane.domain.privileges.Permission value


def wait_until_unused(
    sessions: Callable[[], int], patience: float = 3.0, interval: float = 0.2
) -> int:
    """The sessions still open after ``patience`` seconds (0: none). A client that just closed
    its connection leaves a server session for a moment: a drop right after is not refused."""
    deadline = time.monotonic() + patience
    while (count := sessions()) and time.monotonic() < deadline:
        time.sleep(interval)
    return count


class EngineAgent(ABC):
    family: ClassVar[str]

    @abstractmethod
    def runtime(self, major_version: str) -> NodeRuntime:
        """Container layout for one major version."""

    @abstractmethod
    def init_files(
        self, major_version: str, superuser_password: str, init_settings: Mapping[str, str]
    ) -> dict[str, FileSpec]:
        """Files placed under ``runtime.data_mount`` before ``runtime.init_command`` runs once."""

    def seeded_files(
        self, major_version: str, init_settings: Mapping[str, str]
    ) -> dict[str, FileSpec]:
        """Files rewritten, relative to the data mount, when a node's volume is a copy of a
        pre-initialised template rather than initialised for it: what must differ between
        servers (a MariaDB server_id). Pure."""
        return {}

    @abstractmethod
    def set_superuser_password(self, conn: Connection, password: str) -> None:
        """The service's superuser gets ``password`` (a node seeded from a template has the
        template's until then)."""

    @abstractmethod
    def config_files(
        self, major_version: str, settings: list[ServerSetting], memory_bytes: int, role: Role
    ) -> dict[str, FileSpec]:
        """Server configuration we own for a node in ``role``, relative to the data mount (pure)."""

    def tls_files(self, major_version: str, cert_pem: str, key_pem: str) -> dict[str, FileSpec]:
        """The server certificate and key, relative to the data mount. ``config_files`` points
        the server at them and ``reload`` makes it serve a replaced pair without a restart.
        Engines without TLS support return nothing."""
        return {}

    @abstractmethod
    def password_verifier(self, user: str, password: str) -> str:
        """What the server stores for this password; the plaintext never leaves the API tier."""

    @abstractmethod
    def ping(self, conn: Connection, timeout: float) -> None:
        """One round trip (``SELECT 1``); ``TemporaryError`` when the server does not answer."""

    def wait_ready(
        self, conn: Connection, timeout: float, interrupt: Callable[[], None] | None = None
    ) -> None:
        """Block until the server accepts this connection, or raise ``TemporaryError``;
        ``interrupt`` is called between tries (it raises to stop waiting)."""
        deadline = time.monotonic() + timeout
        while True:
            if interrupt is not None:
                interrupt()
            try:
                self.ping(conn, timeout=2)
                return
            except TemporaryError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @abstractmethod
    def ensure_database(self, conn: Connection) -> None:
        """Create the default database if missing (idempotent)."""

    @abstractmethod
    def ensure_admin(self, conn: Connection, user: str, verifier: str, database: str) -> None:
        """Create (or update) the customer's admin user and the default database (idempotent)."""

    @abstractmethod
    def reload(
        self, conn: Connection, settings: Sequence[ServerSetting] = (), role: Role | None = None
    ) -> None:
        """Make the running server apply its configuration, without a restart.

        ``settings`` and ``role`` are what ``config_files`` rendered. Engines that re-read their
        files (PostgreSQL) ignore them; engines that never do (MariaDB) set the hot settings and
        the role (synchronous replication on/off, read-only, the primary followed) at runtime.
        ``role=None`` leaves replication as it is. Switching synchronous replication off must
        release commits already waiting for a standby (the HA monitor degrades that way).
        """

    # --- replication (HA standby, read replicas) -------------------------------------------

    @abstractmethod
    def ensure_replication_user(self, conn: Connection, password: str) -> None:
        """On the primary: the account standbys and replicas replicate with (idempotent)."""

    @abstractmethod
    def clone_files(
        self, major_version: str, role: Role, replication_password: str
    ) -> dict[str, FileSpec]:
        """Files placed under the data mount before ``clone_command`` runs (one-shot)."""

    @abstractmethod
    def clone_command(self, major_version: str, role: Role) -> list[str]:
        """One-shot: replace the node's data with a copy of ``role.primary_host`` and make it
        follow that primary. Runs on the instance network with the node's volume mounted."""

    @abstractmethod
    def prepare_clone(self, primary: Connection, role: Role) -> None:
        """On the primary, before a clone of ``role.node``: drop what a previous copy left."""

    def prepare_follower(self, primary: Connection, role: Role) -> None:  # noqa: B027
        """On the primary, before an existing node follows it (e.g. after a failover).
        Engines without per-follower state on the primary need nothing."""

    @abstractmethod
    def promote(self, conn: Connection) -> None:
        """Turn a standby into a primary that accepts writes (idempotent)."""

    def physical_copy(self, major_version: str, exchange: str, archive: str) -> PhysicalCopy | None:
        """How a snapshot is streamed out of the running main node, ``finish`` leaving
        ``exchange/archive`` (the data mount's layout, tar + gzip). None: the snapshot is a
        clone (``clone_command``) into a scratch volume."""
        return None

    # --- point-in-time recovery (workers/wal_archive.py, workers/binlog_archive.py) -----------

    def seal_archive(self, conn: Connection, timeout: float) -> None:
        """On the primary: a commit stamped now, its segment closed and archived (to the node's
        archive directory) within ``timeout``: every time up to now is then reachable."""
        raise NotImplementedError(f"{self.family} has no point-in-time recovery")

    def pitr_script(self, major_version: str, target_time: str, segments_dir: str) -> str:
        """A shell script run over a restored data directory before its node starts: recover
        from the segments in ``segments_dir`` up to ``target_time`` (RFC 3339), then promote."""
        raise NotImplementedError(f"{self.family} has no point-in-time recovery")

    @abstractmethod
    def replication_state(self, primary: Connection) -> dict[str, StandbyState]:
        """The nodes replicating from this primary, by node name."""

    @abstractmethod
    def is_primary(self, conn: Connection) -> bool:
        """True when this node accepts writes (not in recovery / not read-only)."""

    # --- databases, users, privileges (on the primary; see controlplane/domain/privileges.py) --
    # Only the customer's objects: the service's and the engine's own accounts and databases
    # (controlplane/domain/engine_objects.py) are never listed, and naming one is ``not_found``.
    # Refusals the user can act on raise ``engine_objects.ObjectRefused``.

    @abstractmethod
    def list_databases(self, conn: Connection, sizes: bool) -> list[DatabaseInfo]:
        """Every customer database, with its size in bytes when ``sizes``."""

    @abstractmethod
    def create_database(self, conn: Connection, name: str) -> None:
        """A managed database that no one but the admin roles may use until granted."""

    @abstractmethod
    def drop_database(self, conn: Connection, name: str) -> None:
        """Drop it and every privilege on it; refused while sessions use it."""

    @abstractmethod
    def list_users(self, conn: Connection) -> list[UserInfo]:
        """Every customer login account."""

    @abstractmethod
    def create_user(self, conn: Connection, name: str, verifier: str, is_admin: bool) -> None:
        """A login from a verifier (``password_verifier``); an admin gets exactly what the
        initial admin has (``ensure_admin``) but database privileges, a user nothing."""

    @abstractmethod
    def update_user(
        self, conn: Connection, name: str, verifier: str | None, is_admin: bool | None
    ) -> None:
        """Change what is given (None: unchanged)."""

    @abstractmethod
    def drop_user(self, conn: Connection, name: str) -> None:
        """Drop the account and its privileges and end its sessions."""

    @abstractmethod
    def list_privileges(self, conn: Connection) -> list[PrivilegeInfo]:
        """One entry per customer user and customer database."""

    @abstractmethod
    def set_privilege(self, conn: Connection, database: str, user: str, permission: str) -> None:
        """Replace what ``user`` holds on ``database`` by ``permission`` (readonly, readwrite,
        all, none)."""

    @abstractmethod
    def activity(self, conn: Connection) -> Activity:
        """Sessions and write transactions so far, in a few seconds or ``TemporaryError``.
        The count may go back (a restart can reset it): rates over it skip a decrease."""
