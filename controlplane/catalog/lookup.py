"""Finding things in the catalog by the names and ids clients send."""

from __future__ import annotations

from controlplane.catalog.model import Catalog, EngineFamily, EngineVersion, NodeType


def find_node_type(catalog: Catalog, name: str) -> NodeType | None:
    """Case-insensitive: clients send ``DB-DEV-S`` as well as ``db-dev-s``."""
    wanted = name.strip().lower()
    for node_type in catalog.node_types:
        if node_type.name == wanted:
            return node_type
    return None


def find_engine_version(catalog: Catalog, version_name: str) -> EngineVersion | None:
    """By wire name (``PostgreSQL-17``); an exact match wins, else a case-insensitive one."""
    versions = catalog.engine_versions()
    for version in versions:
        if version.name == version_name:
            return version
    wanted = version_name.strip().lower()
    for version in versions:
        if version.name.lower() == wanted:
            return version
    return None


def find_engine_version_by_id(catalog: Catalog, version_id: str) -> EngineVersion | None:
    """By ``UpgradableVersion.id`` (the ``upgradable_version_id`` of UpgradeInstance)."""
    wanted = version_id.strip().lower()
    for version in catalog.engine_versions():
        if version.id == wanted:
            return version
    return None


def find_engine_family(catalog: Catalog, name: str) -> EngineFamily | None:
    """By engine name (``PostgreSQL``, ``MariaDB``), case-insensitive."""
    wanted = name.strip().lower()
    for engine in catalog.engines:
        if engine.name.lower() == wanted:
            return engine
    return None


def upgradable_versions(catalog: Catalog, version: EngineVersion) -> tuple[EngineVersion, ...]:
    """Enabled versions of the same engine newer than ``version`` (Instance.upgradable_version),
    newest first."""
    family = find_engine_family(catalog, version.engine_name)
    if family is None:
        return ()
    newer = []
    for candidate in family.versions:  # newest first
        if candidate.name == version.name:
            break
        if not candidate.disabled:
            newer.append(candidate)
    return tuple(newer)
