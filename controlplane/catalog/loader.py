"""Reading ``node_types.json`` and ``engines.json`` into the frozen catalog types.

The files are data (see README.md). Loading is strict: an unknown or missing key, a duplicate
name, versions not newest first, or a default value its own rule rejects raise CatalogError, so
a typo in the data fails at startup rather than at the first request that touches it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

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
from controlplane.catalog.settings_rules import SettingValueError, parse_setting_value

CATALOG_DIR = Path(__file__).resolve().parent
NODE_TYPES_FILE = "node_types.json"
ENGINES_FILE = "engines.json"


class CatalogError(ValueError):
    """The catalog files are malformed or inconsistent."""


@cache
def load_catalog(directory: Path | str | None = None) -> Catalog:
    """The catalog read from ``directory`` (default: this package), once per directory."""
    base = Path(directory) if directory is not None else CATALOG_DIR
    node_types = _read(base / NODE_TYPES_FILE)
    engines = _read(base / ENGINES_FILE)
    catalog = Catalog(
        node_types=tuple(
            _node_type(raw, f"node_types[{i}]")
            for i, raw in enumerate(_keys(node_types, "", {"node_types"})["node_types"])
        ),
        engines=tuple(
            _engine(raw, f"engines[{i}]")
            for i, raw in enumerate(_keys(engines, "", {"engines"})["engines"])
        ),
    )
    _check_unique([n.name for n in catalog.node_types], "node type")
    _check_unique([v.name for v in catalog.engine_versions()], "engine version")
    _check_unique([v.id for v in catalog.engine_versions()], "engine version id")
    return catalog


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a JSON object")
    return data


def _keys(
    raw: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where or 'document'}: expected an object")
    missing = required - raw.keys()
    unknown = raw.keys() - required - optional - {"_comment"}
    if missing or unknown:
        raise CatalogError(
            f"{where or 'document'}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}"
        )
    return raw


def _node_type(raw: Any, where: str) -> NodeType:
    d = _keys(
        raw,
        where,
        {
            "name",
            "description",
            "vcpus",
            "memory",
            "generation",
            "instance_range",
            "stock_status",
            "is_ha_required",
            "beta",
            "disabled",
            "available_volume_types",
        },
    )
    if d["name"] != d["name"].lower():
        raise CatalogError(f"{where}: node type names are lower-case on the wire")
    volumes = tuple(
        _volume_type(v, f"{where}.available_volume_types[{i}]")
        for i, v in enumerate(d["available_volume_types"])
    )
    _check_unique([v.type for v in volumes], f"{where} volume type")
    return NodeType(
        name=d["name"],
        description=d["description"],
        vcpus=int(d["vcpus"]),
        memory=int(d["memory"]),
        generation=d["generation"],
        instance_range=d["instance_range"],
        stock_status=d["stock_status"],
        is_ha_required=bool(d["is_ha_required"]),
        beta=bool(d["beta"]),
        disabled=bool(d["disabled"]),
        available_volume_types=volumes,
    )


def _volume_type(raw: Any, where: str) -> VolumeTypeSpec:
    d = _keys(raw, where, {"type", "description", "min_size", "max_size", "chunk_size", "class"})
    spec = VolumeTypeSpec(
        type=d["type"],
        description=d["description"],
        min_size=int(d["min_size"]),
        max_size=int(d["max_size"]),
        chunk_size=int(d["chunk_size"]),
        storage_class=d["class"],
    )
    if spec.chunk_size <= 0 or not 0 < spec.min_size <= spec.max_size:
        raise CatalogError(f"{where}: need 0 < min_size <= max_size and chunk_size > 0")
    if spec.is_local and spec.min_size != spec.max_size:
        raise CatalogError(f"{where}: lssd size is fixed, min_size must equal max_size")
    return spec


def _engine(raw: Any, where: str) -> EngineFamily:
    d = _keys(
        raw,
        where,
        {"name", "family", "logo_url", "port", "versions", "settings", "init_settings"},
    )
    kind = EngineKind(d["family"])
    versions = tuple(
        _version(v, d, kind, f"{where}.versions[{i}]") for i, v in enumerate(d["versions"])
    )
    keys = [_version_key(v.version) for v in versions]
    if keys != sorted(keys, reverse=True):
        raise CatalogError(f"{where}: versions must be ordered newest first")
    return EngineFamily(
        name=d["name"], family=kind, logo_url=d["logo_url"], port=int(d["port"]), versions=versions
    )


def _version(raw: Any, engine: dict[str, Any], kind: EngineKind, where: str) -> EngineVersion:
    d = _keys(
        raw,
        where,
        {
            "id",
            "version",
            "name",
            "minor_version",
            "image",
            "end_of_life",
            "release_date",
            "disabled",
            "beta",
        },
    )
    if d["name"] != f"{engine['name']}-{d['version']}":
        raise CatalogError(f"{where}: name must be '<engine>-<version>'")
    return EngineVersion(
        id=d["id"].lower(),
        engine_name=engine["name"],
        family=kind,
        version=d["version"],
        name=d["name"],
        minor_version=d["minor_version"],
        image=d["image"],
        port=int(engine["port"]),
        end_of_life=_timestamp(d["end_of_life"], f"{where}.end_of_life"),
        release_date=_timestamp(d["release_date"], f"{where}.release_date"),
        disabled=bool(d["disabled"]),
        beta=bool(d["beta"]),
        available_settings=_settings(engine["settings"], d["version"], f"{where}.settings"),
        available_init_settings=_settings(
            engine["init_settings"], d["version"], f"{where}.init_settings"
        ),
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _timestamp(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CatalogError(f"{where}: not an RFC 3339 timestamp") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_SETTING_KEYS = {
    "name",
    "default_value",
    "hot_configurable",
    "description",
    "property_type",
    "unit",
    "string_constraint",
    "int_min",
    "int_max",
    "float_min",
    "float_max",
    "engine_name",
    "engine_unit",
    "apply",
}
_SETTING_OPTIONAL = frozenset({"listed_by_default", "memory_default", "value_check", "versions"})


def _settings(raw: list[Any], version: str, where: str) -> tuple[EngineSetting, ...]:
    settings = []
    for i, item in enumerate(raw):
        d = _keys(item, f"{where}[{i}]", _SETTING_KEYS, _SETTING_OPTIONAL)
        if "versions" in d and version not in d["versions"]:
            continue
        settings.append(_setting(d, f"{where}[{i}]"))
    _check_unique([s.name for s in settings], f"{where} setting")
    return tuple(settings)


def _setting(d: dict[str, Any], where: str) -> EngineSetting:
    kind = PropertyType(d["property_type"])
    memory = d.get("memory_default")
    setting = EngineSetting(
        name=d["name"],
        default_value=d["default_value"],
        hot_configurable=bool(d["hot_configurable"]),
        description=d["description"],
        property_type=kind,
        unit=d["unit"],
        string_constraint=d["string_constraint"],
        int_min=d["int_min"],
        int_max=d["int_max"],
        float_min=None if d["float_min"] is None else float(d["float_min"]),
        float_max=None if d["float_max"] is None else float(d["float_max"]),
        engine_name=d["engine_name"],
        engine_unit=d["engine_unit"],
        apply=ApplyVia(d["apply"]),
        listed_by_default=bool(d.get("listed_by_default", False)),
        memory_default=None if memory is None else MemoryDefault(float(memory["fraction"])),
        value_check=d.get("value_check"),
    )
    has_int = setting.int_min is not None or setting.int_max is not None
    has_float = setting.float_min is not None or setting.float_max is not None
    if (has_int and kind is not PropertyType.INT) or (has_float and kind is not PropertyType.FLOAT):
        raise CatalogError(f"{where}: bounds do not match property_type {kind}")
    if setting.string_constraint is not None and kind is not PropertyType.STRING:
        raise CatalogError(f"{where}: string_constraint on a {kind} setting")
    if setting.memory_default is not None and kind is not PropertyType.INT:
        raise CatalogError(f"{where}: memory_default needs an INT setting")
    if setting.hot_configurable and setting.apply is not ApplyVia.CONFIG:
        raise CatalogError(f"{where}: only config settings can be hot_configurable")
    try:
        parse_setting_value(setting, setting.default_value)
    except SettingValueError as exc:
        raise CatalogError(f"{where}: default_value is invalid: {exc}") from exc
    return setting


def _check_unique(names: list[str], what: str) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogError(f"duplicate {what}: {', '.join(duplicates)}")
