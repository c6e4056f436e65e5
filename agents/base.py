"""The contract every engine agent implements (PostgreSQL, MySQL family).

Workers never branch on the engine: they ask the agent for the node runtime (image layout,
commands), for pure renderings (init files, config files, password verifiers) and call it for
the few operations that need a live connection. Engine driver exceptions are translated inside
the agent into ``TemporaryError`` / ``PermanentError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

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
    stop_signal: str
    stop_timeout: int


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class ServerSetting:
    """A user-facing setting resolved to what the engine understands."""

    name: str  # engine parameter name
    value: str  # already rendered with the engine's unit and quoting
    hot: bool


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

    @abstractmethod
    def config_files(
        self, major_version: str, settings: list[ServerSetting], memory_bytes: int
    ) -> dict[str, FileSpec]:
        """Server configuration we own, relative to ``runtime.data_mount`` (pure)."""

    @abstractmethod
    def password_verifier(self, user: str, password: str) -> str:
        """What the server stores for this password; the plaintext never leaves the API tier."""

    @abstractmethod
    def wait_ready(self, conn: Connection, timeout: float) -> None:
        """Block until the server accepts this connection, or raise ``TemporaryError``."""

    @abstractmethod
    def ensure_database(self, conn: Connection) -> None:
        """Create the default database if missing (idempotent)."""

    @abstractmethod
    def ensure_admin(self, conn: Connection, user: str, verifier: str, database: str) -> None:
        """Create (or update) the customer's admin user and the default database (idempotent)."""

    @abstractmethod
    def reload(self, conn: Connection, settings: Sequence[ServerSetting] = ()) -> None:
        """Make the running server apply its configuration, without a restart.

        ``settings`` are the ones ``config_files`` rendered. Engines that re-read their files
        (PostgreSQL) ignore them; engines that never do (MariaDB) set the hot ones at runtime.
        """

    @abstractmethod
    def is_healthy(self, conn: Connection) -> bool:
        """One cheap round trip: True when the server answers queries."""
