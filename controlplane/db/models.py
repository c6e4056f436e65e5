"""Typed tables holding our state. Wire shapes live in api/schemas; conversion in api/convert."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controlplane.db.base import Base, UtcDateTime, new_id, utcnow


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Quotas; NULL means the settings' default (services/capacity.py).
    quota_instances: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quota_memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    quota_volume_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AdmissionLock(Base):
    """One row per serialization point: updating it first makes concurrent admissions (of
    instances, replicas, bigger node types) decide one after the other, on SQLite and
    PostgreSQL alike."""

    __tablename__ = "admission_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """An API key; only a keyed hash of the secret key is stored."""

    __tablename__ = "api_keys"

    access_key: Mapped[str] = mapped_column(String(20), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Operation(Base):
    """One asynchronous job. The row is committed before its Celery message is published."""

    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Instance(Base):
    __tablename__ = "instances"
    # List pages walk it in order (no sort of the organization's rows), whatever their count.
    __table_args__ = (
        Index("ix_instances_listing", "organization_id", "region", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    region: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    engine: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_ha_cluster: Mapped[bool] = mapped_column(Boolean, default=False)
    high_availability_mode: Mapped[str] = mapped_column(String(40), default="disabled")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    init_settings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    volume_type: Mapped[str] = mapped_column(String(16))
    volume_size: Mapped[int] = mapped_column(BigInteger)
    backup_schedule_frequency: Mapped[int] = mapped_column(Integer, default=24)
    backup_schedule_retention: Mapped[int] = mapped_column(Integer, default=7)
    backup_schedule_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_schedule_start_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logs_max_age_retention: Mapped[int | None] = mapped_column(Integer, nullable=True, default=30)
    logs_total_disk_retention: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    backup_same_region: Mapped[bool] = mapped_column(Boolean, default=False)
    encryption_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    admin_user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Password of the control plane's own superuser on the engine, encrypted (domain/secrets).
    superuser_secret: Mapped[str] = mapped_column(Text)
    replication_secret: Mapped[str] = mapped_column(Text)
    # TLS: the certificate is public (users download it); its key is encrypted like any secret.
    tls_cert: Mapped[str] = mapped_column(Text, default="")
    tls_key_secret: Mapped[str] = mapped_column(Text, default="")
    tls_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # HA durability: "sync" = every acknowledged commit is on the standby; "degraded" = main
    # node alone (standby missing or catching up); "none" = not an HA instance.
    sync_mode: Mapped[str] = mapped_column(String(16), default="none")
    # Its load-balancer endpoint moved to another instance (a major upgrade with endpoints):
    # converges build no load balancer for it any more.
    load_balancer_released: Mapped[bool] = mapped_column(Boolean, default=False)
    # The image its nodes run (a Docker image id), pinned until a maintenance moves it to a
    # newer build of the same tag; NULL until a worker first pins it.
    image_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Swarm mode: the host of the load balancer (its endpoint's address); None: the local engine.
    load_balancer_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    endpoints: Mapped[list[Endpoint]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="Endpoint.created_at"
    )
    nodes: Mapped[list[Node]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="Node.name"
    )
    read_replicas: Mapped[list[ReadReplica]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="ReadReplica.created_at"
    )
    maintenances: Mapped[list[Maintenance]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="Maintenance.created_at"
    )
    acl_rules: Mapped[list[AclRule]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="AclRule.id"
    )


class InstanceTally(Base):
    """How many instances an organization holds in a region and project: kept by triggers on
    ``instances`` (migration 0015), so a list page's total reads a few rows, not all of them."""

    __tablename__ = "instance_tallies"

    organization_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instances: Mapped[int] = mapped_column(Integer)


class Endpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    read_replica_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # load_balancer | private_network | direct_access
    ip: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    instance: Mapped[Instance] = relationship(back_populates="endpoints")


class AclRule(Base):
    """One network the instance's endpoints admit (domain/acl.py), in the order rules were
    added: the id is that order. Creators of an instance give it its first rules
    (services/acls.py: the API's default, or a copied instance's)."""

    __tablename__ = "acl_rules"
    __table_args__ = (UniqueConstraint("instance_id", "ip"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    ip: Mapped[str] = mapped_column(String(18))  # normalised IPv4 CIDR: "255.255.255.255/32"
    description: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    instance: Mapped[Instance] = relationship(back_populates="acl_rules")


class ReadReplica(Base):
    """An asynchronous replica of an instance; its engine process is the node ``node_name``."""

    __tablename__ = "read_replicas"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    region: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    same_zone: Mapped[bool] = mapped_column(Boolean, default=True)
    node_name: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    instance: Mapped[Instance] = relationship(back_populates="read_replicas")


class Node(Base):
    """One engine process (a container) of an instance: the main node, a standby or a replica."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("instance_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(16))  # n1, n2, ...
    role: Mapped[str] = mapped_column(String(16))  # primary | standby | replica
    # The swarm host that holds its volume (workers/swarm_hosts.py); None: the local engine.
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    # Swarm mode: the port its host publishes the engine on for the control plane alone.
    admin_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set when the node's data cannot be trusted (a fenced former main): rebuilt from the primary.
    needs_rebuild: Mapped[bool] = mapped_column(Boolean, default=False)
    # Last replication observation of a follower, as its primary reported it (periodic).
    streaming: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    replication_lag_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    instance: Mapped[Instance] = relationship(back_populates="nodes")


class PortAllocation(Base):
    """Host ports we hand out; the primary key makes two allocations of one port impossible."""

    __tablename__ = "port_allocations"

    port: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Maintenance(Base):
    """Work we announce on an instance (domain/maintenance.py): pending until the user applies
    it or ``forced_at`` passes, ongoing while its job runs, then done (or canceled when what
    called for it went away)."""

    __tablename__ = "maintenances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # image_update | certificate_renewal
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # image_update: the image id the nodes move to (the tag's newest build when announced)
    target: Mapped[str | None] = mapped_column(String(128), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stops_at: Mapped[datetime] = mapped_column(UtcDateTime)
    forced_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    instance: Mapped[Instance] = relationship(back_populates="maintenances")


class EngineImage(Base):
    """What a worker learned about an engine image (by id): its tag and the engine's exact
    version inside (``minor_version`` on the wire)."""

    __tablename__ = "engine_images"

    image_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), index=True)
    recipe_hash: Mapped[str] = mapped_column(String(64), default="")
    engine_version: Mapped[str] = mapped_column(String(64))
    # The tag pointed at this image when last observed (a rebuild moves the tag on).
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class InstanceLog(Base):
    """One node's log over whole days (00:00-23:59 UTC), prepared for download: ``creating``
    while its job assembles it into the log store, then ``ready`` until ``expires_at``."""

    __tablename__ = "instance_logs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    region: Mapped[str] = mapped_column(String(16))
    node_name: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    object_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LogPosition(Base):
    """How far the collector read one log file of a node (its inode and byte offset); a
    replaced or truncated file starts again at 0."""

    __tablename__ = "log_positions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # instance/node/file
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    node_name: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    last_day: Mapped[str | None] = mapped_column(String(10), nullable=True)  # of the last line
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class LogDay(Base):
    """A node's log of one closed day: one compressed object in the log store. ``merged``
    lists the collected chunks already in it (deleted after the row is committed, so a
    compaction cut short never counts a chunk twice)."""

    __tablename__ = "log_days"
    __table_args__ = (UniqueConstraint("instance_id", "node_name", "day"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    node_name: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    object_key: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    merged: Mapped[list[str]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MetricSample(Base):
    """One value of one metric of one node at one time (workers/metrics_sampler.py; the names
    and units are in domain/metrics.py). Kept ``metrics_retention_hours``, and removed with
    the instance; no foreign key: a sampling round that raced a deletion leaves rows that the
    retention drops, instead of failing."""

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_instance_time", "instance_id", "sampled_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    instance_id: Mapped[str] = mapped_column(String(36))
    node_name: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    sampled_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    value: Mapped[float] = mapped_column(Float)


class Snapshot(Base):
    """A copy of an instance's data in the object store (``snapshots/``), ``creating`` while
    its job takes it. No foreign key to instances: a snapshot outlives its instance until it
    expires, so it keeps what a new instance needs (``source``: the instance's specifications
    and its internal passwords, still encrypted, as they were when it was taken)."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_listing", "organization_id", "region", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str] = mapped_column(String(36))
    region: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(64))
    volume_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The service's own passwords inside the copied data (secrets.encrypt tokens).
    superuser_secret: Mapped[str] = mapped_column(Text, default="")
    replication_secret: Mapped[str] = mapped_column(Text, default="")
    # The key the archive is sealed with, wrapped by the keyring (backup_crypto.wrap): a key
    # rotation re-encrypts it, so the snapshot outlives the deployment key that derived it.
    key_secret: Mapped[str] = mapped_column(Text, default="", server_default="")
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    object_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256, hex
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DatabaseBackup(Base):
    """A logical dump of one database (issue 17): ``object_key`` in the backup store, encrypted
    with its instance's backup key (controlplane/backup_crypto.py), ``checksum`` the sha256 of
    the stored bytes. No foreign key: a backup outlives its instance until ``expires_at``."""

    __tablename__ = "database_backups"
    __table_args__ = (
        Index("ix_database_backups_listing", "organization_id", "region", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str] = mapped_column(String(36))
    region: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_name: Mapped[str] = mapped_column(String(255))
    engine: Mapped[str] = mapped_column(String(64))  # the instance's engine when dumped
    database_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    object_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The dump's key, encrypted by the keyring (re-encrypted by rotate-key like any secret).
    key_secret: Mapped[str] = mapped_column(Text, default="", server_default="")
    same_region: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    download_url_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
