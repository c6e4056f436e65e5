"""Instance (response, scaleway-rdb-api.md 3.1) and the instance request bodies (5.1, 5.3-5.5)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, ConfigDict, Field, model_validator

from controlplane.api.schemas.common import (
    NULL_AS_EMPTY_LIST,
    EncryptionAtRest,
    InstanceSetting,
    Timestamp,
    WireRequest,
    WireResponse,
    null_as,
    null_as_new,
)
from controlplane.api.schemas.endpoints import Endpoint, EndpointSpec
from controlplane.api.schemas.enums import (
    HighAvailabilityMode,
    InstanceStatus,
    MaintenanceStatus,
    StorageClass,
    VolumeType,
    storage_class_of,
)
from controlplane.api.schemas.read_replicas import ReadReplica

INT64_MAX = 2**63 - 1  # what the metadata store's BIGINT holds
UInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""Sizes in bytes: a JSON number out; a number or a numeric string in (``"30000000000"``)."""
# Backup schedule and log retention bounds: hours in ten years, days in ten years.
FREQUENCY_MAX_HOURS = 87_600
RETENTION_MAX_DAYS = 3_650


class Volume(WireResponse):
    """``{"type", "size", "class"}``; ``class`` is derived from ``type`` when not given."""

    volume_type: VolumeType = Field(
        validation_alias=AliasChoices("type", "volume_type"), serialization_alias="type"
    )
    size: UInt64
    storage_class: StorageClass = Field(
        default=StorageClass.UNKNOWN_STORAGE_CLASS,
        validation_alias=AliasChoices("class", "storage_class"),
        serialization_alias="class",
    )

    @model_validator(mode="after")
    def _derive_class(self) -> Volume:
        if self.storage_class is StorageClass.UNKNOWN_STORAGE_CLASS:
            self.storage_class = storage_class_of(self.volume_type)
        return self


class BackupSchedule(WireResponse):
    """Never null in an Instance (Terraform dereferences it)."""

    frequency: int = 24  # hours
    retention: int = 7  # days
    disabled: bool = False
    next_run_at: Timestamp | None = None  # null when disabled


class LogsPolicy(WireResponse):
    """Response ``logs_policy`` and the optional ``logs_policy`` of UpdateInstance."""

    model_config = ConfigDict(extra="ignore")

    max_age_retention: int | None = Field(default=None, ge=1, le=RETENTION_MAX_DAYS)  # days
    total_disk_retention: UInt64 | None = None  # bytes


def default_logs_policy() -> LogsPolicy:
    return LogsPolicy(max_age_retention=30, total_disk_retention=None)


class UpgradableVersion(WireResponse):
    id: str
    name: str  # "PostgreSQL-17"
    version: str  # "17"
    minor_version: str  # "17.6"


class Maintenance(WireResponse):
    starts_at: Timestamp | None = None
    stops_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    reason: str
    status: MaintenanceStatus
    forced_at: Timestamp | None = None
    is_applicable: bool = False


class Instance(WireResponse):
    """Every key of 3.1 is always present; ``endpoint`` (deprecated mirror of the load-balancer
    endpoint) is ``null`` when there is none."""

    id: str
    name: str
    organization_id: str
    project_id: str
    status: InstanceStatus
    engine: str  # version name, "PostgreSQL-17"
    upgradable_version: list[UpgradableVersion] = Field(default_factory=list)
    endpoint: Endpoint | None = None
    tags: list[str] = Field(default_factory=list)
    settings: list[InstanceSetting] = Field(default_factory=list)
    backup_schedule: BackupSchedule = Field(default_factory=BackupSchedule)
    is_ha_cluster: bool = False
    high_availability_mode: HighAvailabilityMode = (
        HighAvailabilityMode.UNKNOWN_HIGH_AVAILABILITY_MODE
    )
    read_replicas: list[ReadReplica] = Field(default_factory=list)
    node_type: str  # lower-case
    volume: Volume
    init_settings: list[InstanceSetting] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    logs_policy: LogsPolicy = Field(default_factory=default_logs_policy)
    backup_same_region: bool = False
    maintenances: list[Maintenance] = Field(default_factory=list)
    encryption: EncryptionAtRest = Field(default_factory=EncryptionAtRest)
    created_at: Timestamp
    region: str


class ListInstancesResponse(WireResponse):
    instances: list[Instance]
    total_count: int


class InstanceSettingsResponse(WireResponse):
    """Response of Add/Set/DeleteInstanceSettings: ``{"settings": [...]}``."""

    settings: list[InstanceSetting]


# --- requests ---------------------------------------------------------------------------------


class CreateInstanceRequest(WireRequest):
    """POST /instances. ``null`` for a list or a defaulted field means "not given".

    * ``project_id`` or, deprecated, ``organization_id`` (the services resolve which applies).
    * ``node_type`` as sent (any case); ``engine`` a version name such as ``PostgreSQL-17``.
    * ``user_name``/``password`` may be empty: the instance is then created without a user.
    * ``high_availability_mode`` ``unknown_high_availability_mode`` (Go's default) means "derive
      from ``is_ha_cluster``".
    * ``volume_size`` bytes, a number or a numeric string; 0 for lssd.
    * ``init_endpoints`` empty means the default: one load-balancer endpoint.
    """

    project_id: str | None = None
    organization_id: str | None = None
    name: str | None = None
    engine: str
    user_name: Annotated[str, null_as("")] = ""
    password: Annotated[str, null_as("")] = ""
    node_type: str
    is_ha_cluster: Annotated[bool, null_as(False)] = False
    high_availability_mode: Annotated[
        HighAvailabilityMode, null_as(HighAvailabilityMode.UNKNOWN_HIGH_AVAILABILITY_MODE)
    ] = HighAvailabilityMode.UNKNOWN_HIGH_AVAILABILITY_MODE
    disable_backup: Annotated[bool, null_as(False)] = False
    tags: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    init_settings: Annotated[list[InstanceSetting], NULL_AS_EMPTY_LIST] = Field(
        default_factory=list
    )
    volume_type: Annotated[VolumeType, null_as(VolumeType.LSSD)] = VolumeType.LSSD
    volume_size: Annotated[UInt64, null_as(0)] = 0
    init_endpoints: Annotated[list[EndpointSpec], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    backup_same_region: Annotated[bool, null_as(False)] = False
    encryption: Annotated[EncryptionAtRest, null_as_new(EncryptionAtRest)] = Field(
        default_factory=EncryptionAtRest
    )


class UpdateInstanceRequest(WireRequest):
    """PATCH /instances/{id}: only the keys given change (``None`` = unchanged)."""

    backup_schedule_frequency: int | None = Field(default=None, ge=1, le=FREQUENCY_MAX_HOURS)
    backup_schedule_retention: int | None = Field(default=None, ge=1, le=RETENTION_MAX_DAYS)
    is_backup_schedule_disabled: bool | None = None
    name: str | None = None
    tags: list[str] | None = None
    logs_policy: LogsPolicy | None = None
    backup_same_region: bool | None = None
    backup_schedule_start_hour: int | None = Field(default=None, ge=0, le=23)


class CloneInstanceRequest(WireRequest):
    name: str
    node_type: str | None = None


class MajorUpgradeWorkflow(WireRequest):
    upgradable_version_id: str
    with_endpoints: Annotated[bool, null_as(False)] = False


UPGRADE_TARGETS = (
    "node_type",
    "enable_ha",
    "high_availability_mode",
    "volume_size",
    "volume_type",
    "upgradable_version_id",
    "major_upgrade_workflow",
    "enable_encryption",
)


class UpgradeInstanceRequest(WireRequest):
    """POST /instances/{id}/upgrade: exactly one target (``target`` names it)."""

    node_type: str | None = None
    enable_ha: bool | None = None
    high_availability_mode: HighAvailabilityMode | None = None
    volume_size: UInt64 | None = None
    volume_type: VolumeType | None = None
    upgradable_version_id: str | None = None
    major_upgrade_workflow: MajorUpgradeWorkflow | None = None
    enable_encryption: bool | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> UpgradeInstanceRequest:
        given = [name for name in UPGRADE_TARGETS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"exactly one of {', '.join(UPGRADE_TARGETS)} must be set")
        return self

    @property
    def target(self) -> str:
        return next(name for name in UPGRADE_TARGETS if getattr(self, name) is not None)


class InstanceSettingsRequest(WireRequest):
    """Body of Add (POST, upsert) and Set (PUT, replace) InstanceSettings."""

    settings: Annotated[list[InstanceSetting], NULL_AS_EMPTY_LIST] = Field(default_factory=list)


class DeleteInstanceSettingsRequest(WireRequest):
    setting_names: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
