"""Every tunable of the control plane, read once from the environment (prefix ``DBAAS_``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENCRYPTION_KEY = "dev-only-insecure-key-change-me"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DBAAS_", extra="ignore")

    # Production by default: secrets need a key of our own (DBAAS_ENCRYPTION_KEY, or better the
    # key file that `dbaas init-key` writes and `dbaas rotate-key` rotates).
    dev_mode: bool = False
    state_dir: Path = PROJECT_ROOT / ".var"
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "DBAAS_DATABASE_URL")
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "DBAAS_REDIS_URL"),
    )
    encryption_key: str = ""
    encryption_key_file: Path | None = None  # default: <state_dir>/secrets/encryption.key
    # Celery queue: several deployments (or test sessions) can share one Redis.
    queue_name: str = "dbaas"

    # Instance logs: "" = files under <state_dir>/logs; file:///path; s3://bucket[/prefix]
    # (with DBAAS_S3_ENDPOINT_URL, DBAAS_S3_ACCESS_KEY, DBAAS_S3_SECRET_KEY, DBAAS_S3_REGION).
    log_store_url: str = ""
    s3_endpoint_url: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    # The API's address as users reach it (signed download URLs of the filesystem store).
    public_api_url: str = ""
    log_collect_interval_seconds: float = 5.0
    log_close_interval_seconds: float = 600.0  # closing past days, retention, expired exports
    log_download_expiry_hours: float = 24.0

    # GET /metrics (Prometheus): this bearer token; empty: loopback clients only.
    metrics_token: str = ""

    regions: list[str] = ["fr-par"]
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_workers: int = 0  # API processes; 0: one per CPU (PostgreSQL store: two)
    api_access_log: bool = False  # one line per request (Prometheus counts them anyway)

    # Where users reach database endpoints (host ports are published on this address).
    advertise_address: str = "127.0.0.1"
    publish_address: str = "127.0.0.1"
    endpoint_port_min: int = 20000
    endpoint_port_max: int = 29999
    # Node ports the control plane itself uses to reach engines (never advertised).
    admin_port_min: int = 30000
    admin_port_max: int = 39999

    # Operations: how long a worker holds an operation, when the sweeper republishes.
    operation_lease_seconds: int = 600
    sweeper_interval_seconds: float = 10.0
    republish_after_seconds: float = 30.0
    reconcile_interval_seconds: float = 15.0
    # Instance metrics: a sample of every running node this often, kept this long.
    metrics_interval_seconds: float = 30.0
    metrics_retention_hours: float = 7 * 24
    max_operation_attempts: int = 5
    # A maintenance (an image update) not applied by its users is applied this long after it
    # was announced (certificate renewals: 14 days before the certificate expires).
    maintenance_forced_after_hours: float = 14 * 24
    max_read_replicas: int = 3
    # Default quotas per organization (`dbaas quota set` overrides them per organization).
    quota_instances: int = 50
    quota_memory_bytes: int = 0  # 0: half of the memory the host can schedule
    # Node memory limits the host takes, as a multiple of its memory (limits are ceilings).
    memory_overcommit: float = 2.0
    quota_volume_bytes: int = 2 * 10**12

    # Several Docker hosts (docs/multi-host.md): the swarm manager's Docker URL; empty: the one
    # local engine. Nodes are then placed on the swarm's hosts (workers/swarm_hosts.py).
    swarm_manager: str = ""

    # Resource naming and limits on the Docker side.
    resource_prefix: str = "dbaas"
    loop_volumes: bool = True
    # New main nodes start from a copy of a pre-initialised data directory (workers/templates.py).
    volume_templates: bool = True
    # pids limits: an engine runs a process (PostgreSQL) or thread (MariaDB) per connection.
    node_pids_limit: int = 12288
    proxy_pids_limit: int = 256
    host_cpu_reserve: float = 0.0

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir / 'dbaas.sqlite3'}"
        if not self.public_api_url:
            self.public_api_url = f"http://{self.api_host}:{self.api_port}"
        if self.encryption_key_file is None:
            self.encryption_key_file = self.state_dir / "secrets" / "encryption.key"
        if self.encryption_key == DEV_ENCRYPTION_KEY and not self.dev_mode:
            raise ValueError("the public development key is refused when DBAAS_DEV_MODE is false")
        return self


@cache
def get_settings() -> Settings:
    return Settings()
