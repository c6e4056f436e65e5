"""Every enum of the RDB v1 wire format (scaleway-rdb-api.md section 4), as StrEnums.

The first member is the value the SDKs assume when a key is absent.
"""

from __future__ import annotations

from enum import StrEnum

# Statuses are defined once, by the state machine; the wire uses the same values.
from controlplane.domain.states import InstanceStatus as InstanceStatus
from controlplane.domain.states import ReadReplicaStatus as ReadReplicaStatus


class DatabaseBackupStatus(StrEnum):
    UNKNOWN = "unknown"
    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"
    DELETING = "deleting"
    ERROR = "error"
    EXPORTING = "exporting"
    LOCKED = "locked"


class SnapshotStatus(StrEnum):
    UNKNOWN = "unknown"
    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"
    DELETING = "deleting"
    ERROR = "error"
    LOCKED = "locked"


class InstanceLogStatus(StrEnum):
    UNKNOWN = "unknown"
    READY = "ready"
    CREATING = "creating"
    ERROR = "error"


class MaintenanceStatus(StrEnum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    DONE = "done"
    CANCELED = "canceled"
    ONGOING = "ongoing"


class NodeTypeStock(StrEnum):
    UNKNOWN = "unknown"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"
    AVAILABLE = "available"


class NodeTypeGeneration(StrEnum):
    UNKNOWN_GENERATION = "unknown_generation"
    GENERATION_V1 = "generation_v1"
    GENERATION_V2 = "generation_v2"
    GENERATION_V3 = "generation_v3"


class VolumeType(StrEnum):
    LSSD = "lssd"
    BSSD = "bssd"
    SBS_5K = "sbs_5k"
    SBS_15K = "sbs_15k"


class StorageClass(StrEnum):
    UNKNOWN_STORAGE_CLASS = "unknown_storage_class"
    LSSD = "lssd"
    BSSD = "bssd"
    SBS = "sbs"


class HighAvailabilityMode(StrEnum):
    UNKNOWN_HIGH_AVAILABILITY_MODE = "unknown_high_availability_mode"
    DISABLED = "disabled"
    SINGLE_ZONE = "single_zone"
    MULTIPLE_ZONE = "multiple_zone"


class EndpointPrivateNetworkDetailsProvisioningMode(StrEnum):
    STATIC = "static"
    IPAM = "ipam"


class Permission(StrEnum):
    READONLY = "readonly"
    READWRITE = "readwrite"
    ALL = "all"
    CUSTOM = "custom"
    NONE = "none"


class ACLRuleAction(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class ACLRuleDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ACLRuleProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


class EngineSettingPropertyType(StrEnum):
    """Upper-case on the wire (the Python SDK's own enum is lower-case but keeps any string)."""

    BOOLEAN = "BOOLEAN"
    INT = "INT"
    STRING = "STRING"
    FLOAT = "FLOAT"


class ListInstancesRequestOrderBy(StrEnum):
    CREATED_AT_ASC = "created_at_asc"
    CREATED_AT_DESC = "created_at_desc"
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    REGION = "region"
    STATUS_ASC = "status_asc"
    STATUS_DESC = "status_desc"


class ListDatabaseBackupsRequestOrderBy(StrEnum):
    CREATED_AT_ASC = "created_at_asc"
    CREATED_AT_DESC = "created_at_desc"
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    STATUS_ASC = "status_asc"
    STATUS_DESC = "status_desc"


class ListSnapshotsRequestOrderBy(StrEnum):
    CREATED_AT_ASC = "created_at_asc"
    CREATED_AT_DESC = "created_at_desc"
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    EXPIRES_AT_ASC = "expires_at_asc"
    EXPIRES_AT_DESC = "expires_at_desc"


class ListUsersRequestOrderBy(StrEnum):
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    IS_ADMIN_ASC = "is_admin_asc"
    IS_ADMIN_DESC = "is_admin_desc"


class ListDatabasesRequestOrderBy(StrEnum):
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    SIZE_ASC = "size_asc"
    SIZE_DESC = "size_desc"


class ListPrivilegesRequestOrderBy(StrEnum):
    USER_NAME_ASC = "user_name_asc"
    USER_NAME_DESC = "user_name_desc"
    DATABASE_NAME_ASC = "database_name_asc"
    DATABASE_NAME_DESC = "database_name_desc"


class ListInstanceLogsRequestOrderBy(StrEnum):
    CREATED_AT_ASC = "created_at_asc"
    CREATED_AT_DESC = "created_at_desc"


def storage_class_of(volume_type: VolumeType | str) -> StorageClass:
    """``lssd`` -> ``lssd``, ``bssd`` -> ``bssd``, ``sbs_5k``/``sbs_15k`` -> ``sbs``."""
    value = str(volume_type)
    if value.startswith("sbs"):
        return StorageClass.SBS
    return _STORAGE_CLASSES.get(value, StorageClass.UNKNOWN_STORAGE_CLASS)


# A plain dict: converting a value through the Enum costs ~90 us a call, in every listing.
_STORAGE_CLASSES = {"lssd": StorageClass.LSSD, "bssd": StorageClass.BSSD}
