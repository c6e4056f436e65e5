"""Administrative commands: migrate the metadata store, bootstrap tenancy, issue keys."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.db.models import Organization, Project
from controlplane.db.session import session_scope
from controlplane.domain.units import parse_bytes
from controlplane.keyring import NoKeyError
from controlplane.services import tenancy
from controlplane.settings import PROJECT_ROOT, get_settings


def migrate(_args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(PROJECT_ROOT / "alembic.ini")), "head")
    return 0


def _write_scw_config(path: Path, key: tenancy.IssuedKey, project_id: str, api_url: str) -> None:
    """A scw-style config (0600): usable by `scw`, the SDKs' from_config_file, and humans."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    region = get_settings().regions[0]
    with os.fdopen(fd, "w") as fh:
        fh.write(
            f"access_key: {key.access_key}\nsecret_key: {key.secret_key}\n"
            f"api_url: {api_url}\ndefault_organization_id: {key.organization_id}\n"
            f"default_project_id: {project_id}\ndefault_region: {region}\n"
        )


def bootstrap(args: argparse.Namespace) -> int:
    """First run: a default organization, project and admin key, saved to a credentials file."""
    settings = get_settings()
    cred_path = settings.state_dir / "credentials.yaml"
    with session_scope() as session:
        existing = session.scalar(select(Organization).order_by(Organization.created_at))
        if existing is not None and cred_path.exists():
            print(f"already bootstrapped; credentials in {cred_path}")
            print(cred_path.read_text(), end="")
            return 0
        org = existing or tenancy.create_organization(session, "default")
        project = session.scalar(
            select(Project).where(Project.organization_id == org.id).order_by(Project.created_at)
        ) or tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "bootstrap admin key")
    _write_scw_config(cred_path, key, project.id, args.api_url)
    print(f"bootstrap credentials written to {cred_path}")
    print(cred_path.read_text(), end="")
    return 0


def create_organization(args: argparse.Namespace) -> int:
    with session_scope() as session:
        org = tenancy.create_organization(session, args.name)
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "organization admin key")
    print(json.dumps({"organization_id": org.id, "project_id": project.id, **_key(key)}, indent=2))
    return 0


def create_project(args: argparse.Namespace) -> int:
    with session_scope() as session:
        project = tenancy.create_project(session, args.organization_id, args.name)
    print(json.dumps({"project_id": project.id, "organization_id": args.organization_id}))
    return 0


def create_key(args: argparse.Namespace) -> int:
    with session_scope() as session:
        key = tenancy.issue_api_key(session, args.organization_id, args.description)
    print(json.dumps(_key(key), indent=2))
    return 0


def _key(key: tenancy.IssuedKey) -> dict[str, str]:
    return {"access_key": key.access_key, "secret_key": key.secret_key}


def init_key(_args: argparse.Namespace) -> int:
    """The encryption key file, created once with a random key (0600, directory 0700)."""
    from controlplane import keyring

    if get_settings().encryption_key:
        print("DBAAS_ENCRYPTION_KEY is set: no key file is used")
        return 0
    from controlplane.db.session import session_factory
    from controlplane.services import key_rotation

    created = keyring.ensure_key_file()
    print(f"{'created' if created else 'kept'} encryption key file {keyring.key_file()}")
    moved = key_rotation.adopt_development_key(session_factory())
    if moved:
        print(f"re-encrypted {moved} secret(s) written under the public development key")
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    from controlplane.db.session import session_factory
    from controlplane.services import key_rotation

    if get_settings().encryption_key:
        print("error: DBAAS_ENCRYPTION_KEY is set; rotation works on the key file", file=sys.stderr)
        return 2
    count = key_rotation.rotate(session_factory(), grace_seconds=args.grace_seconds)
    print(f"re-encrypted {count} secret(s) under a new key")
    return 0


def quota_show(args: argparse.Namespace) -> int:
    print(json.dumps(_quota_report(args.organization_id), indent=2))
    return 0


def quota_set(args: argparse.Namespace) -> int:
    """``default`` puts a quota back to the settings' default."""
    changes: dict[str, tuple[str | None, Callable[[str], int]]] = {
        "quota_instances": (args.instances, int),
        "quota_memory_bytes": (args.memory, parse_bytes),
        "quota_volume_bytes": (args.volume, parse_bytes),
    }
    with session_scope() as session:
        org = _organization(session, args.organization_id)
        for column, (value, parse) in changes.items():
            if value is not None:
                setattr(org, column, None if value == "default" else parse(value))
    print(json.dumps(_quota_report(args.organization_id), indent=2))
    return 0


def _organization(session: Session, organization_id: str) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise ValueError(f"no organization {organization_id}")
    return org


def _quota_report(organization_id: str) -> dict[str, object]:
    from controlplane.catalog import load_catalog
    from controlplane.services import capacity

    host_memory = capacity.host_memory_bytes()
    with session_scope() as session:
        org = _organization(session, organization_id)
        quota = capacity.quota_of(org, host_memory)
        used = capacity.usage(session, load_catalog(), host_memory, organization_id)
        explicit = {
            "instances": org.quota_instances is not None,
            "memory_bytes": org.quota_memory_bytes is not None,
            "volume_bytes": org.quota_volume_bytes is not None,
        }
    return {
        "organization_id": organization_id,
        "quota": {"instances": quota.instances, "memory_bytes": quota.memory,
                  "volume_bytes": quota.volume},
        "usage": {"instances": used.instances, "memory_bytes": used.memory,
                  "volume_bytes": used.volume},
        "set_explicitly": explicit,
    }  # fmt: skip


def drain_host(args: argparse.Namespace) -> int:
    """Swarm mode: every node and load balancer leaves HOST (workers/drain.py); with --wait,
    until every job ended (each instance's time printed)."""
    from workers import drain

    started = drain.start(args.host)
    report: dict[str, object] = {"host": args.host, "jobs": started.jobs, "left": started.left}
    complete = True
    if args.wait:
        ended = drain.wait(started)
        report["ended"] = {k: {"status": s, "seconds": round(t, 1)} for k, (s, t) in ended.items()}
        complete = len(ended) == len(started.jobs) and all(
            status == "succeeded" for status, _ in ended.values()
        )
    print(json.dumps(report, indent=2))
    return 0 if complete else 1


def activate_host(args: argparse.Namespace) -> int:
    """Swarm mode: HOST takes new nodes again (after ``drain-host``)."""
    from workers import swarm_hosts

    manager = get_settings().swarm_manager
    if not manager:
        raise ValueError("single-host mode (DBAAS_SWARM_MANAGER unset)")
    swarm_hosts.set_availability(manager, args.host, "active")
    return 0


def monitor(_args: argparse.Namespace) -> int:
    from workers.monitor import main as run_monitor

    run_monitor()
    return 0


def default_api_workers(cpus: int | None = None) -> int:
    """One API process per CPU, whatever the store. Clients keep their connections open, and a
    connection stays with the process that took it. On a PostgreSQL store, two processes per
    CPU had overlapped the round trips the hot reads wait for, but with connections kept alive
    they did worse: GET one at 32 clients on 2 cores, 1605-1730 req/s with 2 processes against
    1347-1389 with 4 (bench/api_load.py)."""
    return cpus or os.cpu_count() or 1


def serve_api(args: argparse.Namespace) -> int:
    """The API as deploy/up.sh and docker-compose.yml run it: ``--workers`` processes (default
    DBAAS_API_WORKERS, else ``default_api_workers``); with several, Prometheus request figures
    are shared through files (PROMETHEUS_MULTIPROC_DIR, emptied at start)."""
    import shutil

    import uvicorn

    settings = get_settings()
    workers = args.workers or settings.api_workers or default_api_workers()
    if workers > 1:
        shared = settings.state_dir / "run" / "prometheus"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True, mode=0o700)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    uvicorn.run(
        "controlplane.main:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=workers,
        access_log=settings.api_access_log,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbaas")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=migrate)
    sub.add_parser("monitor", help="run the HA monitor loop").set_defaults(func=monitor)
    p = sub.add_parser("api", help="serve the API (uvicorn, a process per CPU)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(func=serve_api)
    sub.add_parser("init-key", help="create the encryption key file").set_defaults(func=init_key)
    p = sub.add_parser("drain-host", help="swarm mode: move every node off a host")
    p.add_argument("host")
    p.add_argument("--wait", action="store_true", help="until every instance has moved")
    p.set_defaults(func=drain_host)
    p = sub.add_parser("activate-host", help="swarm mode: a drained host takes nodes again")
    p.add_argument("host")
    p.set_defaults(func=activate_host)
    p = sub.add_parser("rotate-key", help="re-encrypt every secret under a new key")
    p.add_argument("--grace-seconds", type=float, default=5.0)
    p.set_defaults(func=rotate_key)
    p = sub.add_parser("bootstrap", help="create the default organization, project and key")
    p.add_argument(
        "--api-url", default=f"http://{get_settings().api_host}:{get_settings().api_port}"
    )
    p.set_defaults(func=bootstrap)
    p = sub.add_parser("create-organization", help="a new organization with a project and a key")
    p.add_argument("--name", required=True)
    p.set_defaults(func=create_organization)
    p = sub.add_parser("create-project", help="a new project in an organization")
    p.add_argument("--organization-id", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(func=create_project)
    p = sub.add_parser("create-key", help="a new API key for an organization")
    p.add_argument("--organization-id", required=True)
    p.add_argument("--description", default="")
    p.set_defaults(func=create_key)
    p = sub.add_parser("quota", help="an organization's quotas and usage")
    quota = p.add_subparsers(dest="quota_command", required=True)
    p = quota.add_parser("show", help="quotas and current usage")
    p.add_argument("--organization-id", required=True)
    p.set_defaults(func=quota_show)
    p = quota.add_parser("set", help="change quotas ('default' restores the default)")
    p.add_argument("--organization-id", required=True)
    p.add_argument("--instances", help="number of instances")
    p.add_argument("--memory", help="node memory, e.g. 16GiB")
    p.add_argument("--volume", help="volume bytes, e.g. 500GB")
    p.set_defaults(func=quota_set)
    args = parser.parse_args(argv)
    os.umask(0o077)  # files we create (SQLite store, keys, credentials) are ours alone
    try:
        return int(args.func(args))
    except (ValueError, NoKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
