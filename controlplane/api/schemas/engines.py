"""DatabaseEngine / EngineVersion / EngineSetting (3.8), plus their construction from the catalog.

``property_type`` is upper-case on the wire; ``int_*``/``float_*`` bounds are bare numbers or
``null`` (the OpenAPI file's ``{value: float}`` objects are not what the API sends).
"""

from __future__ import annotations

from pydantic import Field

from controlplane import catalog
from controlplane.api.schemas.common import Timestamp, WireResponse
from controlplane.api.schemas.enums import EngineSettingPropertyType
from controlplane.api.schemas.instances import UpgradableVersion


class EngineSetting(WireResponse):
    name: str
    default_value: str
    hot_configurable: bool
    description: str
    property_type: EngineSettingPropertyType
    unit: str | None = None
    string_constraint: str | None = None
    int_min: int | None = None
    int_max: int | None = None
    float_min: float | None = None
    float_max: float | None = None


class EngineVersion(WireResponse):
    version: str  # "17"
    name: str  # "PostgreSQL-17"
    end_of_life: Timestamp | None = None
    available_settings: list[EngineSetting] = Field(default_factory=list)
    disabled: bool = False
    beta: bool = False
    available_init_settings: list[EngineSetting] = Field(default_factory=list)
    release_date: Timestamp | None = None


class DatabaseEngine(WireResponse):
    name: str
    logo_url: str
    versions: list[EngineVersion]  # newest first
    region: str


class ListDatabaseEnginesResponse(WireResponse):
    engines: list[DatabaseEngine]
    total_count: int


def engine_setting_from_catalog(setting: catalog.EngineSetting) -> EngineSetting:
    return EngineSetting(
        name=setting.name,
        default_value=setting.default_value,
        hot_configurable=setting.hot_configurable,
        description=setting.description,
        property_type=EngineSettingPropertyType(setting.property_type),
        unit=setting.unit,
        string_constraint=setting.string_constraint,
        int_min=setting.int_min,
        int_max=setting.int_max,
        float_min=setting.float_min,
        float_max=setting.float_max,
    )


def engine_version_from_catalog(version: catalog.EngineVersion) -> EngineVersion:
    return EngineVersion(
        version=version.version,
        name=version.name,
        end_of_life=version.end_of_life,
        available_settings=[engine_setting_from_catalog(s) for s in version.available_settings],
        disabled=version.disabled,
        beta=version.beta,
        available_init_settings=[
            engine_setting_from_catalog(s) for s in version.available_init_settings
        ],
        release_date=version.release_date,
    )


def engine_from_catalog(engine: catalog.EngineFamily, region: str) -> DatabaseEngine:
    return DatabaseEngine(
        name=engine.name,
        logo_url=engine.logo_url,
        versions=[engine_version_from_catalog(v) for v in engine.versions],
        region=region,
    )


def upgradable_version_from_catalog(version: catalog.EngineVersion) -> UpgradableVersion:
    return UpgradableVersion(
        id=version.id,
        name=version.name,
        version=version.version,
        minor_version=version.minor_version,
    )
