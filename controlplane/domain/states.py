"""The one state machine: every status a resource can take and the moves allowed between them.

Stored status strings are the Scaleway wire values and never change meaning. Errors are a state
(``error``) with a reason kept beside it, not a separate flag.
"""

from __future__ import annotations

from enum import StrEnum


class InvalidTransition(Exception):
    def __init__(self, kind: str, current: str, target: str):
        super().__init__(f"{kind}: {current} -> {target} is not allowed")
        self.current = current
        self.target = target


class InstanceStatus(StrEnum):
    UNKNOWN = "unknown"
    READY = "ready"
    PROVISIONING = "provisioning"
    CONFIGURING = "configuring"
    DELETING = "deleting"
    ERROR = "error"
    AUTOHEALING = "autohealing"
    LOCKED = "locked"
    INITIALIZING = "initializing"
    DISK_FULL = "disk_full"
    BACKUPING = "backuping"
    SNAPSHOTTING = "snapshotting"
    RESTARTING = "restarting"


class ReadReplicaStatus(StrEnum):
    UNKNOWN = "unknown"
    PROVISIONING = "provisioning"
    INITIALIZING = "initializing"
    READY = "ready"
    DELETING = "deleting"
    ERROR = "error"
    LOCKED = "locked"
    CONFIGURING = "configuring"
    PROMOTING = "promoting"


class SnapshotStatus(StrEnum):
    UNKNOWN = "unknown"
    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"  # an instance is being made from it
    DELETING = "deleting"
    ERROR = "error"
    LOCKED = "locked"


class DatabaseBackupStatus(StrEnum):
    UNKNOWN = "unknown"
    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"
    DELETING = "deleting"
    ERROR = "error"
    EXPORTING = "exporting"
    LOCKED = "locked"


class OperationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_I = InstanceStatus
INSTANCE_TRANSIENT = frozenset(
    {
        _I.PROVISIONING,
        _I.CONFIGURING,
        _I.DELETING,
        _I.AUTOHEALING,
        _I.INITIALIZING,
        _I.BACKUPING,
        _I.SNAPSHOTTING,
        _I.RESTARTING,
    }
)

INSTANCE_TRANSITIONS: dict[InstanceStatus, frozenset[InstanceStatus]] = {
    _I.PROVISIONING: frozenset({_I.INITIALIZING, _I.READY, _I.ERROR, _I.DELETING}),
    _I.INITIALIZING: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.DELETING}),
    _I.READY: frozenset(
        {
            _I.CONFIGURING,
            _I.INITIALIZING,
            _I.RESTARTING,
            _I.AUTOHEALING,
            _I.BACKUPING,
            _I.SNAPSHOTTING,
            _I.DISK_FULL,
            _I.ERROR,
            _I.DELETING,
            _I.LOCKED,
        }
    ),
    _I.CONFIGURING: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.DELETING}),
    _I.RESTARTING: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.DELETING}),
    _I.AUTOHEALING: frozenset({_I.READY, _I.ERROR, _I.DELETING}),
    _I.BACKUPING: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.DELETING}),
    _I.SNAPSHOTTING: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.DELETING}),
    _I.DISK_FULL: frozenset({_I.READY, _I.ERROR, _I.AUTOHEALING, _I.INITIALIZING, _I.DELETING}),
    _I.ERROR: frozenset({_I.READY, _I.AUTOHEALING, _I.DELETING}),
    _I.LOCKED: frozenset({_I.READY, _I.DELETING}),
    _I.DELETING: frozenset({_I.ERROR}),  # deletion wins: every other status may reach it
    _I.UNKNOWN: frozenset({_I.READY, _I.ERROR, _I.DELETING}),
}

_R = ReadReplicaStatus
REPLICA_TRANSIENT = frozenset(
    {_R.PROVISIONING, _R.INITIALIZING, _R.DELETING, _R.CONFIGURING, _R.PROMOTING}
)
REPLICA_TRANSITIONS: dict[ReadReplicaStatus, frozenset[ReadReplicaStatus]] = {
    _R.PROVISIONING: frozenset({_R.INITIALIZING, _R.READY, _R.ERROR, _R.DELETING}),
    _R.INITIALIZING: frozenset({_R.READY, _R.ERROR, _R.DELETING}),
    _R.READY: frozenset({_R.INITIALIZING, _R.CONFIGURING, _R.PROMOTING, _R.DELETING, _R.ERROR}),
    _R.CONFIGURING: frozenset({_R.READY, _R.ERROR, _R.DELETING}),
    _R.PROMOTING: frozenset({_R.READY, _R.ERROR, _R.DELETING}),
    _R.ERROR: frozenset({_R.INITIALIZING, _R.READY, _R.DELETING}),
    _R.LOCKED: frozenset({_R.READY, _R.DELETING}),
    _R.DELETING: frozenset({_R.ERROR}),
    _R.UNKNOWN: frozenset({_R.READY, _R.ERROR, _R.DELETING}),
}

_S = SnapshotStatus
SNAPSHOT_TRANSIENT = frozenset({_S.CREATING, _S.RESTORING, _S.DELETING})
SNAPSHOT_TRANSITIONS: dict[SnapshotStatus, frozenset[SnapshotStatus]] = {
    _S.CREATING: frozenset({_S.READY, _S.ERROR, _S.DELETING}),
    _S.READY: frozenset({_S.RESTORING, _S.DELETING, _S.LOCKED}),
    _S.RESTORING: frozenset({_S.READY, _S.DELETING}),
    _S.ERROR: frozenset({_S.DELETING}),
    _S.LOCKED: frozenset({_S.READY, _S.DELETING}),
    _S.DELETING: frozenset({_S.ERROR}),
    _S.UNKNOWN: frozenset({_S.READY, _S.ERROR, _S.DELETING}),
}

_B = DatabaseBackupStatus
BACKUP_TRANSIENT = frozenset({_B.CREATING, _B.RESTORING, _B.DELETING, _B.EXPORTING})
# A restore or an export never harms the backup: both end back at ready.
BACKUP_TRANSITIONS: dict[DatabaseBackupStatus, frozenset[DatabaseBackupStatus]] = {
    _B.CREATING: frozenset({_B.READY, _B.ERROR, _B.DELETING}),
    _B.READY: frozenset({_B.RESTORING, _B.EXPORTING, _B.DELETING, _B.LOCKED}),
    _B.RESTORING: frozenset({_B.READY, _B.DELETING}),
    _B.EXPORTING: frozenset({_B.READY, _B.DELETING}),
    _B.ERROR: frozenset({_B.DELETING}),
    _B.LOCKED: frozenset({_B.READY, _B.DELETING}),
    _B.DELETING: frozenset({_B.ERROR}),
    _B.UNKNOWN: frozenset({_B.READY, _B.ERROR, _B.DELETING}),
}

_O = OperationStatus
OPERATION_TRANSITIONS: dict[OperationStatus, frozenset[OperationStatus]] = {
    _O.PENDING: frozenset({_O.RUNNING, _O.FAILED}),
    _O.RUNNING: frozenset({_O.RUNNING, _O.PENDING, _O.SUCCEEDED, _O.FAILED}),
    _O.SUCCEEDED: frozenset(),
    _O.FAILED: frozenset(),
}


def instance_is_transient(status: str) -> bool:
    return InstanceStatus(status) in INSTANCE_TRANSIENT


def replica_is_transient(status: str) -> bool:
    return ReadReplicaStatus(status) in REPLICA_TRANSIENT


def check_instance_transition(current: str, target: str) -> InstanceStatus:
    cur, tgt = InstanceStatus(current), InstanceStatus(target)
    if cur != tgt and tgt not in INSTANCE_TRANSITIONS[cur]:
        raise InvalidTransition("instance", cur, tgt)
    return tgt


def check_replica_transition(current: str, target: str) -> ReadReplicaStatus:
    cur, tgt = ReadReplicaStatus(current), ReadReplicaStatus(target)
    if cur != tgt and tgt not in REPLICA_TRANSITIONS[cur]:
        raise InvalidTransition("read_replica", cur, tgt)
    return tgt


def check_snapshot_transition(current: str, target: str) -> SnapshotStatus:
    cur, tgt = SnapshotStatus(current), SnapshotStatus(target)
    if cur != tgt and tgt not in SNAPSHOT_TRANSITIONS[cur]:
        raise InvalidTransition("snapshot", cur, tgt)
    return tgt


def backup_is_transient(status: str) -> bool:
    return DatabaseBackupStatus(status) in BACKUP_TRANSIENT


def check_backup_transition(current: str, target: str) -> DatabaseBackupStatus:
    cur, tgt = DatabaseBackupStatus(current), DatabaseBackupStatus(target)
    if cur != tgt and tgt not in BACKUP_TRANSITIONS[cur]:
        raise InvalidTransition("database_backup", cur, tgt)
    return tgt


def check_operation_transition(current: str, target: str) -> OperationStatus:
    cur, tgt = OperationStatus(current), OperationStatus(target)
    if tgt not in OPERATION_TRANSITIONS[cur]:
        raise InvalidTransition("operation", cur, tgt)
    return tgt
