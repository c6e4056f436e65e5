"""Which function runs each operation kind, and what a permanent failure does to its resource."""

from __future__ import annotations

from controlplane.domain.failures import PermanentError
from workers import (
    acl_jobs,
    backup_jobs,
    copy_jobs,
    endpoint_jobs,
    host_jobs,
    instance_jobs,
    log_jobs,
    maintenance_jobs,
    object_jobs,
    replica_jobs,
    settings_jobs,
    snapshot_jobs,
    upgrade_jobs,
    wal_archive,
)
from workers.runner import FailureHook, Handler, OperationContext


def ping(ctx: OperationContext) -> None:
    """Liveness probe of the job pipeline (API -> Redis -> worker -> metadata store)."""


def interrupted(ctx: OperationContext) -> None:
    """A monitor action whose monitor died half-way: close it; the monitor re-evaluates."""
    raise PermanentError(f"{ctx.kind} was interrupted; the HA monitor re-evaluates the instance")


HANDLERS: dict[str, Handler] = {
    "ping": ping,
    "provision_instance": instance_jobs.provision,
    "heal_instance": instance_jobs.heal,
    "delete_instance": instance_jobs.delete,
    "install_tls": instance_jobs.refresh_configuration,
    "provision_replica": replica_jobs.provision,
    "reset_replica": replica_jobs.reset,
    "replica_endpoint": replica_jobs.add_endpoint,
    "delete_replica": replica_jobs.delete,
    "promote_replica": replica_jobs.promote,
    "restart_instance": upgrade_jobs.restart,
    "upgrade_node_type": upgrade_jobs.upgrade_node_type,
    "enable_ha": upgrade_jobs.enable_ha,
    "grow_volume": upgrade_jobs.grow_volume,
    "change_volume_type": upgrade_jobs.change_volume_type,
    "leave_host": host_jobs.leave_host,
    "clone_instance": copy_jobs.clone,
    "major_upgrade": copy_jobs.major_upgrade,
    "apply_maintenance": maintenance_jobs.apply,
    "prepare_logs": log_jobs.prepare,
    "create_backup": backup_jobs.create,
    "restore_backup": backup_jobs.restore,
    "export_backup": backup_jobs.export,
    "delete_backup": backup_jobs.delete,
    "apply_acl": acl_jobs.apply,
    "apply_settings": settings_jobs.apply,
    "create_endpoint": endpoint_jobs.create,
    "delete_endpoint": endpoint_jobs.delete,
    "migrate_endpoint": endpoint_jobs.migrate,
    "create_snapshot": snapshot_jobs.take,
    "delete_snapshot": snapshot_jobs.delete,
    "create_instance_from_snapshot": snapshot_jobs.create_instance,
    "restore_instance_to_time": wal_archive.restore,
    "failover": interrupted,
    "degrade": interrupted,
    # databases, users, privileges: short, the instance's status untouched (no failure hook)
    **dict.fromkeys(object_jobs.ACTIONS, object_jobs.run),
}
FAILURE_HOOKS: dict[str, FailureHook] = {
    "provision_instance": instance_jobs.mark_error,
    "heal_instance": instance_jobs.mark_error,
    "delete_instance": instance_jobs.mark_error,
    "install_tls": instance_jobs.mark_error,
    "restart_instance": instance_jobs.mark_error,
    "clone_instance": instance_jobs.mark_error,
    "major_upgrade": instance_jobs.mark_error,
    "apply_maintenance": maintenance_jobs.failed,
    "prepare_logs": log_jobs.prepare_failed,
    "create_backup": backup_jobs.create_failed,
    "restore_backup": backup_jobs.restore_failed,
    "export_backup": backup_jobs.export_failed,
    "delete_backup": backup_jobs.delete_failed,
    "apply_acl": instance_jobs.mark_error,
    "apply_settings": instance_jobs.mark_error,
    "create_endpoint": instance_jobs.mark_error,
    "delete_endpoint": instance_jobs.mark_error,
    "migrate_endpoint": endpoint_jobs.migrate_failed,
    "upgrade_node_type": instance_jobs.mark_error,
    "enable_ha": instance_jobs.mark_error,
    "grow_volume": instance_jobs.mark_error,
    "change_volume_type": instance_jobs.mark_error,
    "leave_host": instance_jobs.mark_error,
    "create_snapshot": snapshot_jobs.take_failed,
    "delete_snapshot": snapshot_jobs.delete_failed,
    "create_instance_from_snapshot": snapshot_jobs.create_instance_failed,
    "restore_instance_to_time": wal_archive.restore_failed,
    "provision_replica": replica_jobs.mark_error,
    "reset_replica": replica_jobs.mark_error,
    "replica_endpoint": replica_jobs.mark_error,
    "delete_replica": replica_jobs.mark_error,
    "promote_replica": replica_jobs.mark_error,
}
