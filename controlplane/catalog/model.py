"""The catalog's types: what node types and engine versions exist, and how their settings behave.

All of them are frozen: the catalog is loaded once (``load_catalog``) and shared read-only. Field
names follow the Scaleway wire names where a wire field exists; the private fields that the API
never shows (``engine_name``, ``image``, ...) are documented in ``catalog/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

GB = 1_000_000_000
MB = 1_000_000


class PropertyType(StrEnum):
    """Wire values of ``EngineSetting.property_type`` (upper-case on the wire)."""

    BOOLEAN = "BOOLEAN"
    INT = "INT"
    STRING = "STRING"
    FLOAT = "FLOAT"


class ApplyVia(StrEnum):
    """How an agent applies a setting to the engine."""

    CONFIG = "config"  # a server parameter: postgresql.conf / my.cnf [mysqld]
    INITDB = "initdb"  # an option of data-directory initialisation (PostgreSQL ``initdb --x=v``)


class EngineKind(StrEnum):
    """Which agent family runs an engine."""

    POSTGRESQL = "postgresql"
    MYSQL = "mysql"


@dataclass(frozen=True, slots=True)
class VolumeTypeSpec:
    """One volume type a node type offers. Sizes are bytes; ``lssd`` has min == max."""

    type: str
    description: str
    min_size: int
    max_size: int
    chunk_size: int
    storage_class: str

    @property
    def is_local(self) -> bool:
        return self.type == "lssd"


@dataclass(frozen=True, slots=True)
class NodeType:
    name: str
    description: str
    vcpus: int
    memory: int  # bytes
    generation: str
    instance_range: str
    stock_status: str
    is_ha_required: bool
    beta: bool
    disabled: bool
    available_volume_types: tuple[VolumeTypeSpec, ...]

    @property
    def memory_mb(self) -> int:
        return self.memory // MB

    def volume_type(self, volume_type: str) -> VolumeTypeSpec | None:
        for spec in self.available_volume_types:
            if spec.type == volume_type:
                return spec
        return None


@dataclass(frozen=True, slots=True)
class MemoryDefault:
    """A default computed from the node's memory: ``floor(memory_mb * fraction)``, clamped to the
    setting's ``int_min``/``int_max``."""

    fraction: float


@dataclass(frozen=True, slots=True)
class EngineSetting:
    # Wire fields (EngineSetting of the RDB API).
    name: str
    default_value: str
    hot_configurable: bool
    description: str
    property_type: PropertyType
    unit: str | None
    string_constraint: str | None
    int_min: int | None
    int_max: int | None
    float_min: float | None
    float_max: float | None
    # Private fields, for the agents and the defaults.
    engine_name: str  # parameter name in the engine's config (or initdb option name)
    engine_unit: str | None  # suffix the engine needs after an INT value ("MB", "ms")
    apply: ApplyVia
    listed_by_default: bool  # part of Instance.settings of a fresh instance
    memory_default: MemoryDefault | None
    value_check: str | None  # extra check beyond the regex ("timezone")


@dataclass(frozen=True, slots=True)
class EngineVersion:
    id: str  # stable uuid, used as UpgradableVersion.id
    engine_name: str  # "PostgreSQL"
    family: EngineKind
    version: str  # "17"
    name: str  # "PostgreSQL-17", the value of Instance.engine
    minor_version: str
    image: str
    port: int
    end_of_life: datetime | None
    release_date: datetime | None
    disabled: bool
    beta: bool
    available_settings: tuple[EngineSetting, ...]
    available_init_settings: tuple[EngineSetting, ...]

    def setting(self, name: str) -> EngineSetting | None:
        return _by_name(self.available_settings, name)

    def init_setting(self, name: str) -> EngineSetting | None:
        return _by_name(self.available_init_settings, name)


@dataclass(frozen=True, slots=True)
class EngineFamily:
    name: str  # "PostgreSQL", "MariaDB"
    family: EngineKind
    logo_url: str
    port: int
    versions: tuple[EngineVersion, ...]  # newest first


@dataclass(frozen=True, slots=True)
class Catalog:
    node_types: tuple[NodeType, ...]
    engines: tuple[EngineFamily, ...]

    def engine_versions(self) -> tuple[EngineVersion, ...]:
        return tuple(v for engine in self.engines for v in engine.versions)


def _by_name(settings: tuple[EngineSetting, ...], name: str) -> EngineSetting | None:
    for setting in settings:
        if setting.name == name:
            return setting
    return None
