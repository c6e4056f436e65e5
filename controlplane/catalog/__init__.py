"""The static catalog: node types, engines, their settings, and the pure rules built on them.

``load_catalog()`` reads the JSON files of this package once (cached; pass a directory to load
another copy, e.g. in tests). Nothing is read at import time. See README.md for the data format.
"""

from controlplane.catalog.loader import CatalogError, load_catalog
from controlplane.catalog.lookup import (
    find_engine_family,
    find_engine_version,
    find_engine_version_by_id,
    find_node_type,
    upgradable_versions,
)
from controlplane.catalog.model import (
    ApplyVia,
    Catalog,
    EngineFamily,
    EngineKind,
    EngineSetting,
    EngineVersion,
    MemoryDefault,
    NodeType,
    PropertyType,
    VolumeTypeSpec,
)
from controlplane.catalog.settings_rules import (
    NamedValue,
    SettingValue,
    SettingValueError,
    default_settings,
    engine_value,
    parse_setting_value,
    validate_settings,
)
from controlplane.catalog.volumes import effective_volume_size, validate_volume

__all__ = [
    "ApplyVia",
    "Catalog",
    "CatalogError",
    "EngineFamily",
    "EngineKind",
    "EngineSetting",
    "EngineVersion",
    "MemoryDefault",
    "NamedValue",
    "NodeType",
    "PropertyType",
    "SettingValue",
    "SettingValueError",
    "VolumeTypeSpec",
    "default_settings",
    "effective_volume_size",
    "engine_value",
    "find_engine_family",
    "find_engine_version",
    "find_engine_version_by_id",
    "find_node_type",
    "load_catalog",
    "parse_setting_value",
    "upgradable_versions",
    "validate_settings",
    "validate_volume",
]
