"""Jobs that build a new instance from another one: a clone and a major version upgrade.

The new instance's main node starts from a consistent copy of the source's main node, made by a
one-shot container of the NEW instance's image on the source's network: a base backup
(PostgreSQL, same major version), a single-transaction dump loaded into a fresh data directory
(MariaDB; across major versions its system tables are then upgraded with mariadb-upgrade). A
PostgreSQL major upgrade cannot copy files across versions: the new main node is initialised
empty, then every role and database is dumped from the source and restored (``restore_script``).
The source keeps serving throughout and is never changed, except for the load-balancer endpoint
of a major upgrade ``with_endpoints``, which moves once the new instance is ready. Each step
looks at what exists first: a retried job carries on.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from agents.base import SUPERUSER, FileSpec, copy_of
from controlplane.db.models import Endpoint, Instance, PortAllocation
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.domain.states import InstanceStatus
from workers import docker_driver, naming, nodes, proxies
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import converge_instance, ensure_node_rows, load_instance
from workers.runner import OperationContext

log = logging.getLogger(__name__)


def _pair(ctx: OperationContext) -> tuple[Blueprint, Blueprint] | None:
    """(source, new) as the rows say; None when either is gone or being deleted."""
    with ctx.sessions() as session:
        new = load_instance(session, ctx.resource_id)
        source = load_instance(session, str(ctx.params["source_id"]))
        if new is None or new.status == InstanceStatus.DELETING:
            return None
        if source is None or source.status == InstanceStatus.DELETING:
            raise PermanentError("the source instance is gone")
        ensure_node_rows(session, new)
        session.commit()
        return load_blueprint(source), load_blueprint(new)


def copy_main_node(source: Blueprint, source_node: str, new: Blueprint, upgrade: bool) -> None:
    """The new main node on a copy of ``source_node`` (once: its container marks it done)."""
    primary = new.primary
    if docker_driver.find_container(new.container(primary)) is not None:
        return
    nodes.ensure_instance_network(new.instance_id)
    # The copy reads as the replication account, which a standalone source may not have yet.
    source.agent.ensure_replication_user(
        connection(source, source.primary), source.replication_password
    )
    spec = nodes.node_spec(new, primary, nodes.volume_mount(new, primary))
    role = copy_of(source.container(source_node), primary, upgrade=upgrade)
    nodes.run_clone(new, replace(spec, network=naming.network(source.instance_id)), role)
    docker_driver.ensure_container(
        spec, files=new.config_files(new.roles[primary]), files_base=new.runtime.data_mount
    )


def clone(ctx: OperationContext) -> None:
    pair = _pair(ctx)
    if pair is None:
        return
    source, new = pair
    copy_main_node(source, source.primary, new, upgrade=False)
    converge_instance(ctx.sessions, new.instance_id, {})


def major_upgrade(ctx: OperationContext) -> None:
    pair = _pair(ctx)
    if pair is None:
        return
    source, new = pair
    if new.agent.family == "mysql":
        copy_main_node(source, source.primary, new, upgrade=True)
    elif not ctx.params.get("restored"):
        nodes.ensure_instance_network(new.instance_id)
        nodes.ensure_primary(new, new.primary)  # an empty cluster of the new version
        new.agent.wait_ready(connection(new, new.primary), timeout=60)
        nodes.write_config(new, new.primary)
        _restore(source, new)
        _remember(ctx, "restored")
    if not ctx.params.get("with_endpoints"):
        converge_instance(ctx.sessions, new.instance_id, {})
        return
    # Whole (standby included) before the endpoint moves; ready only once it did.
    converge_instance(ctx.sessions, new.instance_id, {}, ready=False)
    move_endpoint(ctx.sessions, source.instance_id, new.instance_id)


def _remember(ctx: OperationContext, key: str) -> None:
    from controlplane.db.models import Operation

    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, key: True}
            session.commit()
    ctx.params[key] = True


# --- PostgreSQL: dump and restore across major versions --------------------------------------

RESTORE_DIR = ".dbaas-restore"


def restore_script(source_host: str, target_host: str) -> str:
    """Run by the new version's client tools (they read older servers): roles first (their
    password verifiers included; the service's own roles, their attributes and memberships
    left as the new instance made them), then each database with
    its privileges. Any error stops it: a failed upgrade leaves an instance in error, never a
    partial copy reported ready."""
    src, dst = shlex.quote(source_host), shlex.quote(target_host)
    return f"""\
set -euo pipefail
WORK=$(dirname "$0")
trap 'rm -rf "$WORK"' EXIT  # the password file goes whatever happens
export PGPASSFILE=$WORK/pgpass PGCONNECT_TIMEOUT=10
SRC="-h {src} -U {SUPERUSER}"
DST="-h {dst} -U {SUPERUSER}"
pg_dumpall $SRC --globals-only --no-tablespaces \\
  | grep -v -E '^(CREATE|ALTER) ROLE "?_rdb_|^GRANT .* TO "?_rdb_[a-z]+"?( |;)' \\
  | psql $DST -X -q -v ON_ERROR_STOP=1 -d postgres
DATABASES=$(psql $SRC -X -At -d postgres -c \\
  "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate
   AND datname <> 'postgres' ORDER BY datname")
for DB in $DATABASES; do
  psql $DST -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \\"$DB\\""
  pg_dump $SRC -Fc -d "$DB" | pg_restore $DST --create --exit-on-error -d postgres
done
echo "restored: $DATABASES"
"""


def _restore(source: Blueprint, new: Blueprint) -> None:
    spec = nodes.node_spec(new, new.primary, nodes.volume_mount(new, new.primary))
    base = f"{new.runtime.data_mount}/{RESTORE_DIR}"
    password = new.superuser_password.replace("\\", "\\\\").replace(":", "\\:")
    own = {"uid": new.runtime.uid, "gid": new.runtime.gid}
    script = restore_script(source.container(source.primary), new.container(new.primary))
    files = {
        f"{RESTORE_DIR}/restore.sh": FileSpec(script.encode(), 0o700, **own),
        f"{RESTORE_DIR}/pgpass": FileSpec(f"*:*:*:{SUPERUSER}:{password}\n".encode(), 0o600, **own),
    }
    restorer = docker_driver.ContainerSpec(
        name=f"{spec.name}-restore", image=spec.image, command=[], labels=spec.labels,
        network=naming.network(source.instance_id), extra_networks=[spec.network],
        user=spec.user, mounts=spec.mounts, restart=False, dns_options=spec.dns_options,
    )  # fmt: skip
    code, output = docker_driver.run_once(
        restorer, ["bash", f"{base}/restore.sh"], files, new.runtime.data_mount, timeout=3600
    )
    if code != 0:
        raise PermanentError(f"restoring into {new.version.name} failed: {output.strip()[-800:]}")
    log.info("instance %s: %s", new.instance_id, output.strip().splitlines()[-1])


# --- the endpoint moves --------------------------------------------------------------------


def move_endpoint(sessions: sessionmaker[Session], source_id: str, new_id: str) -> None:
    """The source's load-balancer endpoint (its id, address and port) becomes the new
    instance's; the new instance's own goes. The source stays ready, without an endpoint."""
    with sessions() as session:
        source = session.get(Instance, source_id)
        new = session.get(Instance, new_id)
        if source is None or new is None:
            return
        moving = next((e for e in source.endpoints if e.kind == "load_balancer"), None)
        own = next((e for e in new.endpoints if e.kind == "load_balancer"), None)
    if moving is not None:  # else moved already (a retried job)
        _take_endpoint(
            sessions, source_id, new_id, (moving.id, moving.port), own.id if own else None
        )
    # The proxies go once the rows say so: the periodic reconcile, seeing a ready source's load
    # balancer gone while its endpoint row was still there, healed it (into the moved port).
    # Again on a retry: the new instance's own comes back on the moved port just below.
    proxies.remove(naming.lb_container(source_id))  # frees the port: the source stops there
    proxies.remove(naming.lb_container(new_id))
    converge_instance(sessions, new_id, {})  # its load balancer, now on the moved port
    try:
        converge_instance(sessions, source_id, {})  # settles without a load balancer
    except TemporaryError:
        log.warning("instance %s: not settled after its endpoint moved", source_id)


def _take_endpoint(
    sessions: sessionmaker[Session],
    source_id: str,
    new_id: str,
    moving: tuple[str, int],  # endpoint id, port
    own_id: str | None,
) -> None:
    moving_id, port = moving
    with sessions() as session:
        source = session.get(Instance, source_id)
        new = session.get(Instance, new_id)
        assert source is not None and new is not None
        source.load_balancer_released = True
        new.load_balancer_released = False  # it may have given its own away earlier
        endpoint = session.get(Endpoint, moving_id)
        assert endpoint is not None
        endpoint.instance_id = new_id
        stale = session.get(Endpoint, own_id) if own_id else None
        if stale is not None:
            session.delete(stale)
        for allocation in session.query(PortAllocation).filter(
            PortAllocation.owner_id == new_id, PortAllocation.purpose == "load_balancer"
        ):
            session.delete(allocation)
        moved = session.get(PortAllocation, port)
        if moved is not None:
            moved.owner_id = new_id
        session.commit()
